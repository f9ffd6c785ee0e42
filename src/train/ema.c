/* The averaged generator: its decay ramp and its own BatchNorm statistics
 * (clgan/dcgan.h). The statistics are derived from the averaged weights
 * alone (fixed noise), so they need not be saved and resume stays exact. */
#include "runtime/internal.h"
#include "train/dcgan_internal.h"

float clgan_ema_decay_at(float ema_decay, long g_updates) {
  float ramp = (float)(1.0 + (double)g_updates) / (float)(10.0 + (double)g_updates);
  return ramp < ema_decay ? ramp : ema_decay;
}

clgan_status dcgan_ema_stats(clgan_dcgan *d) {
  net_state *s = &d->net[CLGAN_NET_G];
  if (!s->has_ema || !s->ema_stats_stale) return CLGAN_OK;
  graph_pass p = dcgan_pass(d, CLGAN_NET_G, d->ema_noise);
  p.params = s->arena[CLGAN_ARENA_EMA];
  p.stats = s->arena[CLGAN_ARENA_EMA_STATS];
  size_t noise = (size_t)d->cfg.nz * d->cfg.batch;
  clgan_status st = CLGAN_OK;
  /* momentum 1 / (i + 1): the running values become the mean over batches */
  for (int i = 0; i < CLGAN_EMA_STATS_BATCHES && st == CLGAN_OK; i++) {
    p.bn_momentum = 1.0f / (float)(i + 1);
    st = clgan_buf_write(d->ctx, d->ema_noise, d->ema_noise_host + noise * (size_t)i, noise);
    if (st == CLGAN_OK) st = cond_g_forward(d, &p, (clgan_buf){0}); /* classes b % K */
  }
  if (st == CLGAN_OK) s->ema_stats_stale = 0;
  return st;
}
