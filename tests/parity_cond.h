/* The conditional parity fixture's extras (tests/parity/cond32.bin, written
 * by tests/parity/make_fixture_cond.py): its classes and embedding width,
 * and the labels of each iteration's real and fake batches. */
#ifndef CLGAN_PARITY_COND_H
#define CLGAN_PARITY_COND_H

#include "clgan/cond.h"
#include "parity_fixture.h"

/* embed_dim of a conditional fixture, 0 for an unconditional one. */
int parity_cond_embed(const pf_fixture *f);
/* Sets cfg's conditional fields from the fixture (nothing for an
 * unconditional one). */
void parity_cond_config(const pf_fixture *f, clgan_dcgan_config *cfg);
/* Uploads iteration it's "iterK.real_labels" / "iterK.fake_labels" (N
 * int32 each) into labels[0] / labels[1] as floats. */
void parity_cond_labels(const pf_fixture *f, int it, int n, clgan_buf labels[2]);

#endif
