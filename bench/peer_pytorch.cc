// SPDX-License-Identifier: MIT
/* PyTorch peer cases through libtorch's ATen (1.13), one thread: what a
 * PyTorch program pays for the same operation, beside ours.
 * - softmax, log_softmax, logsumexp and the two VJPs (softmax's and
 *   log-softmax's backward) call the kernels torch.softmax & co. reach,
 *   in their out= forms, writing into the suite's own buffers: no
 *   allocation and no dispatch through autograd in the timed loop, the
 *   fastest way PyTorch offers to run them.
 * - cross_entropy and cross_entropy_soft run as a training step does:
 *   cross_entropy(x, target, reduction='none') on a leaf that requires
 *   grad, then backward(ones), through autograd. PyTorch allocates the
 *   losses and x.grad (dropped after each call, as zero_grad(set_to_none)
 *   does); ours writes both into buffers given.
 * PyTorch has no JVP kernels (forward-mode AD composes other ops): no case
 * for those. */
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/api/include/torch/version.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" {
#include "bench.h"
}

namespace {

bool supported(bench_op op)
{
    switch (op) {
    case OP_SOFTMAX:
    case OP_LOG_SOFTMAX:
    case OP_LOGSUMEXP:
    case OP_SOFTMAX_VJP:
    case OP_LOG_SOFTMAX_VJP:
    case OP_CROSS_ENTROPY:
    case OP_CROSS_ENTROPY_SOFT:
        return true;
    default:
        return false;
    }
}

bool is_xent(bench_op op)
{
    return op == OP_CROSS_ENTROPY || op == OP_CROSS_ENTROPY_SOFT;
}

/* One rotation set wrapped in tensors (no copies, but for the targets:
 * PyTorch takes class indices as int64). */
struct set_tensors {
    at::Tensor a, b, out, row_out, target;
    at::Tensor ones; /* backward's gradient of the loss rows */
};

set_tensors wrap(bench_op op, const bench_data *d, const bench_set *s)
{
    const int64_t r = (int64_t)d->rows, c = (int64_t)d->cols;
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    set_tensors t;
    t.a = at::from_blob(s->a, {r, c}, f32);
    if (s->b)
        t.b = at::from_blob(s->b, {r, c}, f32);
    t.out = at::from_blob(s->out, {r, c}, f32);
    t.row_out = at::from_blob(s->row_out, {r}, f32);
    if (op == OP_CROSS_ENTROPY)
        t.target = at::from_blob(s->targets, {r}, at::TensorOptions().dtype(at::kInt))
                       .to(at::kLong);
    else if (op == OP_CROSS_ENTROPY_SOFT)
        t.target = t.b;
    if (is_xent(op)) {
        t.a = t.a.detach().requires_grad_(true); /* a leaf for autograd */
        t.ones = at::ones({r}, f32);
    }
    return t;
}

/* One call. Cross-entropy leaves its loss rows and gradient (PyTorch's own
 * tensors) in *loss and *grad. */
void run(bench_op op, set_tensors &t, at::Tensor *loss = nullptr,
         at::Tensor *grad = nullptr)
{
    switch (op) {
    case OP_SOFTMAX: at::_softmax_out(t.out, t.a, 1, false); break;
    case OP_LOG_SOFTMAX: at::_log_softmax_out(t.out, t.a, 1, false); break;
    case OP_LOGSUMEXP: at::logsumexp_out(t.row_out, t.a, {1}, false); break;
    /* inputs: a = y (the forward output), b = g */
    case OP_SOFTMAX_VJP:
        at::_softmax_backward_data_out(t.out, t.b, t.a, 1, at::kFloat);
        break;
    case OP_LOG_SOFTMAX_VJP:
        at::_log_softmax_backward_data_out(t.out, t.b, t.a, 1, at::kFloat);
        break;
    case OP_CROSS_ENTROPY:
    case OP_CROSS_ENTROPY_SOFT: {
        at::Tensor l = at::cross_entropy_loss(t.a, t.target, {}, at::Reduction::None,
                                              -100, 0.0);
        l.backward(t.ones);
        if (loss)
            *loss = l.detach();
        if (grad)
            *grad = t.a.grad();
        t.a.mutable_grad().reset(); /* as zero_grad(set_to_none=True) */
        break;
    }
    default: abort(); /* not registered */
    }
}

/* Compares row 0 of one untimed call on set 0 with libsmxkern's, so a
 * miswired peer shows: within 1e-3 of the row's largest magnitude (and
 * of the loss or logsumexp). Not tighter: PyTorch 1.13 sums a row in
 * float, and its log-softmax of a row of 4M normal logits is 9e-4 off
 * (ours 3e-6, against a double reference). */
const char *check_against_lib(bench_op op, const bench_data *d, set_tensors &t)
{
    at::Tensor loss, grad;
    run(op, t, &loss, &grad);
    std::vector<float> out(d->cols), row_out(1);
    bench_set row = d->sets[0];
    row.out = out.data();
    row.row_out = row_out.data();
    bench_data one = {1, d->cols, 1, &row};
    if (bench_ops[op].run(&one, &row) != SMX_OK)
        return "libsmxkern reference failed";
    float scale = 0.0f;
    for (size_t j = 0; op != OP_LOGSUMEXP && j < d->cols; j++)
        scale = std::fmax(scale, std::fabs(out[j]));
    auto close = [](float got, float want, float scale) {
        return std::fabs(got - want) <= 1e-3f * scale;
    };
    const bool rows_out = op == OP_LOGSUMEXP || is_xent(op);
    const float *theirs = is_xent(op) ? grad.data_ptr<float>() : d->sets[0].out;
    const float their_row = op == OP_LOGSUMEXP ? d->sets[0].row_out[0]
                            : is_xent(op)      ? loss.data_ptr<float>()[0]
                                               : 0.0f;
    if (rows_out && !close(their_row, row_out[0], 1.0f + std::fabs(row_out[0])))
        return "PyTorch result differs from libsmxkern";
    for (size_t j = 0; op != OP_LOGSUMEXP && j < d->cols; j++)
        if (!close(theirs[j], out[j], scale))
            return "PyTorch result differs from libsmxkern";
    return nullptr;
}

struct torch_case {
    bench_op op;
    const bench_shape *sh;
};

torch_case cases[OP_COUNT * 16];
size_t ncases;

void bm(smxb_state *st, void *arg)
{
    const auto *c = static_cast<const torch_case *>(arg);
    const bench_op_info *info = &bench_ops[c->op];
    const bench_data *d = bench_data_get(info->inputs, c->sh, info->bytes_per_elem);
    if (!d) {
        smxb_skip(st, "out of memory");
        return;
    }
    const char *why = nullptr;
    std::vector<set_tensors> sets;
    try {
        for (size_t k = 0; k < d->nsets; k++)
            sets.push_back(wrap(c->op, d, &d->sets[k]));
        why = check_against_lib(c->op, d, sets[0]);
    } catch (const std::exception &) {
        why = "PyTorch setup or call failed";
    }
    if (why) {
        smxb_skip(st, why);
        return;
    }
    size_t k = 0;
    bool failed = false;
    while (smxb_keep_running(st)) {
        try { /* nothing may unwind through Google Benchmark's loop */
            run(c->op, sets[k]);
        } catch (const std::exception &) {
            failed = true;
        }
        if (++k == d->nsets)
            k = 0;
    }
    if (failed)
        smxb_skip(st, "PyTorch call failed");
    bench_set_counters(st, c->sh, info->bytes_per_elem, d->nsets);
}

} // namespace

extern "C" void peer_pytorch_context(void)
{
    at::set_num_threads(1); /* one thread, as the library */
    smxb_add_context("pytorch_version", TORCH_VERSION);
    char buf[32];
    snprintf(buf, sizeof buf, "%d", at::get_num_threads());
    smxb_add_context("pytorch_threads", buf);
    /* ATen picks its best kernels (AVX512, AVX2) unless this caps them */
    const char *cap = getenv("ATEN_CPU_CAPABILITY");
    smxb_add_context("pytorch_isa", cap && *cap ? cap : "ATen's default");
}

extern "C" void peer_pytorch_register(bench_op op, const bench_shape *sh)
{
    if (!supported(op))
        return;
    if (ncases == sizeof cases / sizeof cases[0])
        abort(); /* more shapes than room: a programming error */
    torch_case *c = &cases[ncases++];
    *c = torch_case{op, sh};
    bench_register_case(op, "pytorch", sh, bm, c);
}
