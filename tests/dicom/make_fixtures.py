#!/usr/bin/python3
"""Writes the DICOM fixtures tests/test_dicom.c needs beyond python3-pydicom's
own test files: MR_small as MONOCHROME1 (same stored values, inverted
display). Run from this folder: /usr/bin/python3 make_fixtures.py"""
import pydicom
from pydicom.data import get_testdata_file

ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
ds.PhotometricInterpretation = "MONOCHROME1"
ds.SeriesInstanceUID = ds.SeriesInstanceUID + ".1"
ds.save_as("mr_small_monochrome1.dcm", write_like_original=False)
