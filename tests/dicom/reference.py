#!/usr/bin/python3
"""Reference figures for tests/test_dicom.c from an independent reader
(pydicom, Debian's python3-pydicom, no numpy): for the uncompressed test files,
the modality values (stored value x RescaleSlope + RescaleIntercept) as
count, sum, first, minimum and maximum. Run: /usr/bin/python3 reference.py"""
import os
import struct

import pydicom
from pydicom.data import get_testdata_file

for name in ["CT_small.dcm", "MR_small.dcm"]:
    ds = pydicom.dcmread(get_testdata_file(name))
    fmt = "<%d%s" % (ds.Rows * ds.Columns, "h" if ds.PixelRepresentation else "H")
    stored = struct.unpack(fmt, ds.PixelData[: struct.calcsize(fmt)])
    slope = float(ds.get("RescaleSlope", 1))
    inter = float(ds.get("RescaleIntercept", 0))
    values = [v * slope + inter for v in stored]
    print("%s: count %d sum %.1f first %.1f min %.1f max %.1f" %
          (name, len(values), sum(values), values[0], min(values), max(values)))
