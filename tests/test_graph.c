/* The graph as data and the plan step: the op table is complete, G and D
 * are the tutorial's networks (node kinds, shapes, PyTorch's tensor names),
 * bad configurations are refused, and training steps create no OpenCL
 * object: every buffer, program and kernel exists once the model is built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgan/augment.h"
#include "clgan/cond.h"
#include "graph/graph.h"
#include "test_util.h"

START_TEST(test_op_table_complete) {
  for (int op = 0; op < GRAPH_OP_COUNT; op++) {
    ck_assert_msg(graph_ops[op].name != NULL, "op %d has no name", op);
    ck_assert_msg(graph_ops[op].plan && graph_ops[op].forward && graph_ops[op].backward,
                  "op %d (%s) lacks a verb", op, graph_ops[op].name);
  }
}
END_TEST

static const char *op_names(const graph *g, char *buf, size_t cap) {
  static const char code[GRAPH_OP_COUNT] = {[GRAPH_OP_CONV] = 'C', [GRAPH_OP_CONVT] = 'T',
                                            [GRAPH_OP_BN_ACT] = 'B', [GRAPH_OP_ACT] = 'A'};
  size_t n = 0;
  for (int i = 0; i < g->nnodes && n + 1 < cap; i++) buf[n++] = code[g->nodes[i].op];
  buf[n] = '\0';
  return buf;
}

/* The tutorial's nn.Sequential: G = ConvT BN ReLU x4, ConvT Tanh; D = Conv
 * LReLU, (Conv BN LReLU) x3, Conv (Sigmoid folded into the loss). */
START_TEST(test_tutorial_graphs) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  graph g, d;
  char ops[64];
  TU_OK(graph_describe(&cfg, CLGAN_NET_G, &g));
  TU_OK(graph_describe(&cfg, CLGAN_NET_D, &d));
  ck_assert_str_eq(op_names(&g, ops, sizeof ops), "TBTBTBTBTA");
  ck_assert_str_eq(op_names(&d, ops, sizeof ops), "CACBCBCBC");
  ck_assert_int_eq(g.nlayers, 5);
  ck_assert_int_eq(d.nlayers, 5);
  /* G: 100 -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> 3x64x64 */
  const graph_slot *out = &g.slots[g.nodes[g.nnodes - 1].out];
  ck_assert_int_eq(out->c, 3);
  ck_assert_int_eq(out->hw, 64);
  ck_assert_int_eq(g.slots[g.nodes[1].out].c, 512);
  ck_assert_int_eq(g.slots[g.nodes[1].out].hw, 4);
  ck_assert_int_eq(d.slots[d.nodes[d.nnodes - 1].out].hw, 1);
  /* state_dict names and order, shapes of PyTorch's layouts */
  ck_assert_int_eq(g.ntensors, 5 + 4 * 4);
  ck_assert_str_eq(g.tensors[0].name, "main.0.weight");
  ck_assert_int_eq(g.tensors[0].shape[0], 100);
  ck_assert_int_eq(g.tensors[0].shape[1], 512);
  ck_assert_str_eq(g.tensors[1].name, "main.1.weight");
  ck_assert_str_eq(g.tensors[4].name, "main.1.running_var");
  ck_assert_str_eq(g.tensors[5].name, "main.3.weight");
  ck_assert_str_eq(g.tensors[g.ntensors - 1].name, "main.12.weight");
  ck_assert_str_eq(d.tensors[0].name, "main.0.weight");
  ck_assert_str_eq(d.tensors[1].name, "main.2.weight");
  ck_assert_str_eq(d.tensors[2].name, "main.3.weight");
  ck_assert_str_eq(d.tensors[d.ntensors - 1].name, "main.11.weight");
  ck_assert_int_eq(d.tensors[d.ntensors - 1].shape[0], 1);
  ck_assert_int_eq(d.tensors[d.ntensors - 1].shape[1], 512);
  /* G 3,576,704 and D 2,765,568 trainable parameters, as PyTorch counts */
  ck_assert_uint_eq(g.param_floats, 3576704);
  ck_assert_uint_eq(d.param_floats, 2765568);
}
END_TEST

START_TEST(test_bad_configs_refused) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  graph g;
  cfg.image_size = 48;
  ck_assert_int_eq(graph_describe(&cfg, CLGAN_NET_G, &g), CLGAN_ERR_INVALID);
  cfg.image_size = 1024;
  ck_assert_int_eq(graph_describe(&cfg, CLGAN_NET_D, &g), CLGAN_ERR_INVALID);
  cfg = clgan_dcgan_default_config();
  cfg.batch = 1;
  ck_assert_int_eq(graph_describe(&cfg, CLGAN_NET_G, &g), CLGAN_ERR_INVALID);
  cfg = clgan_dcgan_default_config();
  cfg.ngf = 0;
  ck_assert_int_eq(graph_describe(&cfg, CLGAN_NET_G, &g), CLGAN_ERR_INVALID);
}
END_TEST

/* A small model: 0 the recipe, 1 every switch that adds work to a step, 2
 * the regularisers without augmentation, 3 and 4 the conditional model
 * (projection D, label-channel D). */
static clgan_dcgan_config small_config(int options) {
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.image_size = 16;
  cfg.channels = 1;
  cfg.nz = 8;
  cfg.ngf = cfg.ndf = 4;
  cfg.batch = 4;
  if (options == 1) {
    cfg.augment = CLGAN_AUG_ALL;
    cfg.ada = 1;
    cfg.ema_decay = 0.99f;
    cfg.nan_guard = 1;
  }
  if (options == 1 || options == 2) { /* D's regularisers; 2: bCR's T its own augmentation */
    cfg.lecam = 0.3f;
    cfg.spectral_norm = 1;
    cfg.consistency = 10.0f;
  }
  if (options >= 3) { /* one model for every class (3: with a projection D); LeCam and
                         spectral norm (bCR's passes take no labels) */
    cfg.conditional = 1;
    cfg.num_classes = 3;
    cfg.embed_dim = 5;
    cfg.projection = options == 3;
    cfg.augment = CLGAN_AUG_ALL;
    cfg.ema_decay = 0.99f;
    cfg.nan_guard = 1;
    cfg.lecam = 0.3f;
    cfg.spectral_norm = 1;
  }
  return cfg;
}

/* Build, then steps and generation: no buffer, program or kernel may be
 * created after the model exists (the plan made them all). Loops 0-2, 4-5:
 * small_config options 0-2, 3-4; loop 3: every switch, the model planned by the tuner
 * (CLGAN_TUNE=on, into a temporary directory) and the steps' statistics read
 * one step behind; loop 6: every switch with every GEMM on the LDS backend
 * (the tuning's gemm: conv products read from the image where they can). */
START_TEST(test_steps_create_nothing) {
  clgan_dcgan_config cfg = small_config(_i < 3 ? _i : _i == 3 || _i == 6 ? 1 : _i - 1);
  int tuned = _i == 3;
  clgan_tuning saved = *clgan_ctx_tuning(tu_ctx()), t = saved;
  if (_i == 6) {
    t.gemm = CLGAN_GEMM_LDS;
    TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
  }
  char dir[64] = "/tmp/clgan-test-graph-XXXXXX";
  if (tuned) {
    ck_assert_ptr_nonnull(mkdtemp(dir));
    t.tune = CLGAN_TUNE_ON;
    t.tune_budget_s = 600;
    snprintf(t.tune_dir, sizeof t.tune_dir, "%s", dir);
    TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
  }
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  TU_OK(clgan_dcgan_init_weights(net, 7));
  size_t real_n = (size_t)cfg.channels * cfg.batch * cfg.image_size * cfg.image_size;
  size_t noise_n = (size_t)cfg.nz * cfg.batch;
  float *host = tu_malloc(real_n * sizeof(float));
  tu_fill_uniform(host, real_n, 3, -1.0f, 1.0f);
  clgan_buf real = tu_upload(host, real_n);
  tu_fill_normal(host, noise_n, 4, 0.0f, 1.0f);
  clgan_buf noise = tu_upload(host, noise_n);
  const float classes[4] = {2, 0, 1, 2}; /* real and fake batch labels (conditional) */
  clgan_buf labels = cfg.conditional ? tu_upload(classes, 4) : (clgan_buf){0};
  free(host);
  clgan_ctx_counts before;
  clgan_ctx_created(tu_ctx(), &before);
  clgan_dcgan_stats stats;
  for (int step = 0; step < 3; step++) {
    if (!tuned) {
      TU_OK(clgan_dcgan_step_labels(net, real, labels, noise, labels, step == 0 ? NULL : &stats));
      continue;
    }
    TU_OK(clgan_dcgan_step_deferred(net, real, noise));
    if (step > 0) TU_OK(clgan_dcgan_stats_take(net, &stats));
  }
  if (tuned) TU_OK(clgan_dcgan_stats_take(net, &stats));
  TU_OK(clgan_dcgan_generate(net, noise, CLGAN_BN_RUNNING));
  TU_OK(clgan_dcgan_generate_labels(net, noise, labels, CLGAN_BN_BATCH));
  tu_assert_created_nothing(&before, "steps");
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_buf_release(&labels);
  clgan_dcgan_destroy(net);
  if (_i == 6) TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
  if (tuned) {
    clgan_tune_report rep;
    clgan_ctx_tune_report(tu_ctx(), &rep);
    ck_assert_int_gt(rep.tuned, 0);
    TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
    tu_remove_tree(dir);
  }
}
END_TEST

/* D keeps its transformed weights from pass to pass and skips the
 * transform where its parameters' version is the one transformed: weights
 * written into a model that has trained (clgan_dcgan_arena_write, as a
 * checkpoint's load writes them) are transformed again, so its next D(x)
 * is, bit for bit, that of a fresh model given the same weights. D's
 * products run by Winograd (the tuning's winograd 1) so that there are
 * kept weights. */
START_TEST(test_written_weights_transformed_again) {
  clgan_dcgan_config cfg = small_config(0);
  clgan_tuning saved = *clgan_ctx_tuning(tu_ctx()), t = saved;
  t.winograd = 1;
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &t));
  clgan_dcgan *trained = NULL, *fresh = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &trained));
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &fresh));
  TU_OK(clgan_ctx_set_tuning(tu_ctx(), &saved));
  TU_OK(clgan_dcgan_init_weights(trained, 1));
  TU_OK(clgan_dcgan_init_weights(fresh, 2));
  size_t real_n = (size_t)cfg.channels * cfg.batch * cfg.image_size * cfg.image_size;
  size_t noise_n = (size_t)cfg.nz * cfg.batch;
  size_t d_n = clgan_dcgan_arena_floats(fresh, CLGAN_NET_D, CLGAN_ARENA_PARAM);
  float *host = tu_malloc((real_n > d_n ? real_n : d_n) * sizeof(float));
  tu_fill_uniform(host, real_n, 3, -1.0f, 1.0f);
  clgan_buf real = tu_upload(host, real_n);
  tu_fill_normal(host, noise_n, 4, 0.0f, 1.0f);
  clgan_buf noise = tu_upload(host, noise_n);
  clgan_dcgan_stats a, b;
  for (int step = 0; step < 2; step++) TU_OK(clgan_dcgan_step(trained, real, noise, &a));
  TU_OK(clgan_dcgan_arena_read(fresh, CLGAN_NET_D, CLGAN_ARENA_PARAM, host));
  TU_OK(clgan_dcgan_arena_write(trained, CLGAN_NET_D, CLGAN_ARENA_PARAM, host));
  TU_OK(clgan_dcgan_step(trained, real, noise, &a));
  TU_OK(clgan_dcgan_step(fresh, real, noise, &b));
  ck_assert_msg(memcmp(&a.d_x, &b.d_x, sizeof a.d_x) == 0,
                "D(x) after the weights were written: %.9g, a fresh model's %.9g", a.d_x, b.d_x);
  free(host);
  clgan_buf_release(&real);
  clgan_buf_release(&noise);
  clgan_dcgan_destroy(trained);
  clgan_dcgan_destroy(fresh);
}
END_TEST

/* The conditional model: G's first ConvTranspose takes nz + embed_dim, each
 * network gets its class table last ("label_emb.weight"; D's is as wide as
 * its last feature map), an unlabelled step is refused. */
START_TEST(test_conditional_graphs) {
  clgan_dcgan_config cfg = small_config(3);
  graph g, d;
  TU_OK(graph_describe(&cfg, CLGAN_NET_G, &g));
  TU_OK(graph_describe(&cfg, CLGAN_NET_D, &d));
  ck_assert_int_eq(g.slots[0].c, cfg.nz + cfg.embed_dim);
  ck_assert_int_eq(g.tensors[0].shape[0], cfg.nz + cfg.embed_dim);
  const clgan_tensor_desc *ge = &g.tensors[g.ntensors - 1], *de = &d.tensors[d.ntensors - 1];
  ck_assert_str_eq(ge->name, "label_emb.weight");
  ck_assert_int_eq(ge->shape[0], 3);
  ck_assert_int_eq(ge->shape[1], 5);
  ck_assert_uint_eq(ge->offset + ge->count, g.param_floats);
  ck_assert_str_eq(de->name, "label_emb.weight");
  ck_assert_int_eq(de->shape[1], cfg.ndf * 2); /* 16 px: two stages, h is 2 ndf x 4 x 4 */
  ck_assert_int_eq(d.slots[d.proj_slot].hw, 4);
  /* the default D form: the classes as input planes, no table */
  cfg.projection = 0;
  TU_OK(graph_describe(&cfg, CLGAN_NET_D, &d));
  ck_assert_int_eq(d.slots[0].c, cfg.channels + 3);
  ck_assert_int_eq(d.tensors[0].shape[1], cfg.channels + 3);
  ck_assert_str_ne(d.tensors[d.ntensors - 1].name, "label_emb.weight");
  cfg.num_classes = 0;
  ck_assert_int_eq(graph_describe(&cfg, CLGAN_NET_G, &g), CLGAN_ERR_INVALID);
  cfg = small_config(3);
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  clgan_buf none = {0}, x = tu_upload(NULL, 16 * 16 * 4);
  ck_assert_int_eq(clgan_dcgan_step(net, x, x, NULL), CLGAN_ERR_INVALID);
  ck_assert_int_eq(clgan_dcgan_step_labels(net, x, none, x, none, NULL), CLGAN_ERR_INVALID);
  clgan_buf_release(&x);
  clgan_dcgan_destroy(net);
}
END_TEST

/* Device bytes of the 64 px gray model at a batch. */
static size_t model_bytes_at(clgan_dcgan_config cfg, int batch) {
  cfg.batch = batch;
  clgan_dcgan *net = NULL;
  TU_OK(clgan_dcgan_create(tu_ctx(), &cfg, &net));
  size_t bytes = clgan_dcgan_device_bytes(net);
  clgan_dcgan_destroy(net);
  return bytes;
}

/* A model larger than the device is refused before anything is allocated,
 * with the sizes and the largest batch that fits; one more image does not. */
START_TEST(test_oversized_model_refused) {
  const clgan_device_info *dev = clgan_ctx_device(tu_ctx());
  clgan_dcgan_config cfg = clgan_dcgan_default_config();
  cfg.channels = 1;
  size_t b2 = model_bytes_at(cfg, 2), b4 = model_bytes_at(cfg, 4);
  double per_image = (double)(b4 - b2) / 2;
  cfg.batch = (int)(1.5 * (double)dev->global_mem_bytes / per_image);
  clgan_ctx_counts before, after;
  clgan_ctx_created(tu_ctx(), &before);
  clgan_dcgan *net = NULL;
  clgan_status st = clgan_dcgan_create(tu_ctx(), &cfg, &net);
  if (st == CLGAN_ERR_INVALID && strstr(clgan_last_error(), "2^32")) {
    fprintf(stderr, "oversized model: the device is too large for this check (batch %d)\n",
            cfg.batch);
    return;
  }
  ck_assert_msg(st == CLGAN_ERR_DEVICE_MEMORY, "%s: %s", clgan_status_name(st), clgan_last_error());
  ck_assert_ptr_null(net);
  clgan_ctx_created(tu_ctx(), &after);
  ck_assert_int_eq(after.buffers, before.buffers);
  const char *msg = clgan_last_error();
  ck_assert_msg(strstr(msg, "MiB of device memory") && strstr(msg, dev->name), "%s", msg);
  const char *fit = strstr(msg, "a batch of ");
  ck_assert_msg(fit != NULL, "no batch suggested: %s", msg);
  int batch = atoi(fit + strlen("a batch of "));
  ck_assert_int_ge(batch, 2);
  ck_assert_int_lt(batch, cfg.batch);
  cfg.batch = batch + 1;
  ck_assert_int_eq(clgan_dcgan_create(tu_ctx(), &cfg, &net), CLGAN_ERR_DEVICE_MEMORY);
  /* (the suggested batch itself would allocate most of the device: not built here) */
}
END_TEST

int main(void) {
  Suite *s = suite_create("graph");
  TCase *tc = tcase_create("graph");
  tcase_add_test(tc, test_op_table_complete);
  tcase_add_test(tc, test_tutorial_graphs);
  tcase_add_test(tc, test_bad_configs_refused);
  tcase_add_loop_test(tc, test_steps_create_nothing, 0, 7);
  tcase_add_test(tc, test_written_weights_transformed_again);
  tcase_add_test(tc, test_conditional_graphs);
  tcase_add_test(tc, test_oversized_model_refused);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
