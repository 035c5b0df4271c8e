// One pass of exact attention statistics per (batch items, heads, block of query rows).
//
// For each query row i of a head, with s_ij = scale q_i.k_j + bias_j (bias 0 for a real key,
// -inf for padding, taken as -1e30 here so that 0 * s_ij stays 0):
//   out_i       = sum_j p_ij v_j                      (written in the model's [B, T, H, d] layout)
//   lse_i       = log sum_j exp(s_ij)
//   entropy_i   = -sum_j p_ij log p_ij = log l_i - sum_j p_ij (s_ij - m_i), m_i the row maximum
//   masses_i    = sum_j p_ij w_j                      (key-set weight columns w [B, T, m])
//   received_j  = sum_i r_i p_ij                      (query weight columns r [B, T, n]; summed
//                                                      over the row blocks of the same task)
//   band_i[o+R] = p(i, i + o), |o| <= R               (0 outside the sequence and at padding)
// The block's scores [rows, T] are formed once (T <= 512: they stay in cache), the exact softmax
// is taken from them, and every output is read off the same probabilities. The matrix products
// are ATen's (MKL); the softmax and the received sums are loops that the compiler vectorises,
// built for AVX-512, AVX2 and baseline x86-64 (target_clones: chosen for the CPU at load time).
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#define HEADLENS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HEADLENS_CLONES  // other CPUs: the baseline of the compiler's target
#endif

namespace {

void check(const at::Tensor& t, const char* name, int64_t dim) {
  TORCH_CHECK(t.device().is_cpu(), "onepass: ", name, " must be a CPU tensor, got ", t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat, "onepass: ", name, " must be float32, got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim, "onepass: ", name, " must have ", dim, " dimensions, got ", t.dim());
}

// Softmax statistics of `rows` score rows of length T, in place: on entry s[i, j] = q_i.k_j; on
// exit s[i, j] = exp(scale s_ij + bias_j - m_i) (unnormalised), and for each row its maximum m_i,
// l_i = sum_j of those, and sum_j e_ij (scale s_ij + bias_j - m_i). One read and one write of the
// scores. exp is Cephes' single-precision polynomial (about 1 ulp), written so that the compiler
// vectorises the loop; the function is compiled for AVX-512, AVX2 and baseline x86-64 and the
// loader picks one for the CPU at run time (no -march: the package runs where it is built).
// An argument below -87.3 gives exactly 0 (padding keys: bias -1e30), as exp would underflow.
HEADLENS_CLONES
void softmax_rows(float* __restrict s, const float* __restrict bias, int64_t rows, int64_t T, float scale,
                  float* __restrict mx, float* __restrict sum, float* __restrict cross) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * T;
    float m = -3.4e38f;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < T; ++j) {
      const float x = scale * row[j] + bias[j];
      m = x > m ? x : m;
    }
    float l = 0.f, c = 0.f;
#pragma omp simd reduction(+ : l, c)
    for (int64_t j = 0; j < T; ++j) {
      const float x = scale * row[j] + bias[j] - m;
      const float xc = x < -87.3f ? -87.3f : x;
      const float n = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
      const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
      float p = 1.9875691500e-4f;
      p = p * r + 1.3981999507e-3f;
      p = p * r + 8.3334519073e-3f;
      p = p * r + 4.1665795894e-2f;
      p = p * r + 1.6666665459e-1f;
      p = p * r + 5.0000001201e-1f;
      p = p * r * r + r + 1.f;
      const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
      float two;
      __builtin_memcpy(&two, &bits, 4);
      const float e = x < -87.3f ? 0.f : p * two;
      row[j] = e;
      l += e;
      c += e * x;
    }
    mx[i] = m;
    sum[i] = l;
    cross[i] = c;
  }
}

// received[j, c] += sum_i coef[i, c] e[i, j] over `rows` rows of length T (N columns c): the
// attention each key receives, read from the block's e_ij while they are in cache.
HEADLENS_CLONES
void receive_rows(const float* __restrict e, const float* __restrict coef, int64_t rows, int64_t T, int64_t N,
                  float* __restrict received) {
  for (int64_t c = 0; c < N; ++c) {
    for (int64_t i = 0; i < rows; ++i) {
      const float a = coef[i * N + c];
      if (a == 0.f) continue;
      const float* row = e + i * T;
      float* out = received + c * T;
#pragma omp simd
      for (int64_t j = 0; j < T; ++j) out[j] += a * row[j];
    }
  }
}

}  // namespace

std::vector<at::Tensor> onepass(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& bias, double scale, const at::Tensor& weights,
                                const at::Tensor& receivers, int64_t reach, int64_t block, int64_t tasks) {
  check(q, "q", 4);
  check(k, "k", 4);
  check(v, "v", 4);
  check(bias, "bias", 2);
  check(weights, "weights", 3);
  check(receivers, "receivers", 3);
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
  TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(), "onepass: q, k and v must have one shape [B, H, T, d]");
  TORCH_CHECK(bias.size(0) == B && bias.size(1) == T, "onepass: bias must be [B, T]");
  TORCH_CHECK(weights.size(0) == B && weights.size(1) == T, "onepass: weights must be [B, T, m]");
  TORCH_CHECK(receivers.size(0) == B && receivers.size(1) == T, "onepass: receivers must be [B, T, n]");
  TORCH_CHECK(reach >= 0 && block > 0 && tasks > 0, "onepass: reach >= 0, block > 0 and tasks > 0");
  const int64_t M = weights.size(2), N = receivers.size(2), W = reach > 0 ? 2 * reach + 1 : 0;
  auto opts = q.options();
  at::Tensor out = at::empty({B, T, H, D}, opts);
  at::Tensor lse = at::empty({B, H, T}, opts);
  at::Tensor entropy = at::empty({B, H, T}, opts);
  at::Tensor masses = at::empty({B, H, T, M}, opts);
  at::Tensor received = at::empty({B, H, T, N}, opts);
  at::Tensor band = at::zeros({B, H, T, W}, opts);
  at::Tensor kbias = bias.clamp_min(-1e30).contiguous();
  const at::Tensor receivers_c = receivers.contiguous(), weights_c = weights.contiguous();
  const float* kb_ptr = kbias.data_ptr<float>();
  const float fscale = static_cast<float>(scale);
  // tasks: (a range of batch items, a range of heads), each about `block` scores a row block, at
  // least `tasks` of them; the row blocks of one task run in order (received sums over them)
  int64_t nh = std::max<int64_t>(1, std::min<int64_t>(H, block / (T * T)));
  int64_t nb = nh < H ? 1 : std::max<int64_t>(1, std::min<int64_t>(B, block / (H * T * T)));
  while (nb > 1 && ((B + nb - 1) / nb) < tasks) nb = (nb + 1) / 2;
  while (nh > 1 && nb == 1 && B * ((H + nh - 1) / nh) < tasks) nh = (nh + 1) / 2;
  const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(T, block / (nb * nh * T)));
  const int64_t hgroups = (H + nh - 1) / nh, bgroups = (B + nb - 1) / nb;
  float* out_p = out.data_ptr<float>();  // [B, T, H, D]
  float* lse_p = lse.data_ptr<float>();  // [B, H, T]
  float* ent_p = entropy.data_ptr<float>();
  float* mass_p = masses.data_ptr<float>();  // [B, H, T, M]
  float* recv_p = received.data_ptr<float>();  // [B, H, T, N]
  float* band_p = band.data_ptr<float>();  // [B, H, T, W]
  at::parallel_for(0, bgroups * hgroups, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> mrow(rows), lrow(rows), crow(rows);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b0 = (task / hgroups) * nb, b1 = std::min(B, b0 + nb);
      const int64_t h0 = (task % hgroups) * nh, h1 = std::min(H, h0 + nh);
      const int64_t bn = b1 - b0, hn = h1 - h0, G = bn * hn;
      // the task's heads as G = bn x hn contiguous matrices (one copy each per task)
      at::Tensor Q = q.slice(0, b0, b1).slice(1, h0, h1).contiguous().view({G, T, D});
      at::Tensor Kt = k.slice(0, b0, b1).slice(1, h0, h1).contiguous().view({G, T, D}).transpose(1, 2);
      at::Tensor V = v.slice(0, b0, b1).slice(1, h0, h1).contiguous().view({G, T, D});
      const float* rw = receivers_c.data_ptr<float>();
      std::vector<float> recv_t(N > 0 ? G * N * T : 0, 0.f);  // [G, N, T]
      for (int64_t r0 = 0; r0 < T; r0 += rows) {
        const int64_t n = std::min(rows, T - r0);
        at::Tensor S = at::bmm(Q.narrow(1, r0, n), Kt);  // [G, n, T], contiguous
        float* sp = S.data_ptr<float>();
        std::vector<float> rsv(G * n * N);  // r_i / l_i
        float* rs = rsv.data();
        std::vector<float> inv(G * n);
        for (int64_t g = 0; g < G; ++g) {
          const int64_t bb = b0 + g / hn, hh = h0 + g % hn;
          softmax_rows(sp + g * n * T, kb_ptr + bb * T, n, T, fscale, mrow.data(), lrow.data(), crow.data());
          for (int64_t i = 0; i < n; ++i) {
            const float logl = std::log(lrow[i]), il = 1.f / lrow[i];
            const int64_t at_ = (bb * H + hh) * T + r0 + i;
            lse_p[at_] = mrow[i] + logl;
            ent_p[at_] = logl - crow[i] * il;
            inv[g * n + i] = il;
            for (int64_t c = 0; c < N; ++c) rs[(g * n + i) * N + c] = rw[(bb * T + r0 + i) * N + c] * il;
          }
        }
        at::Tensor O = at::bmm(S, V);  // [G, n, D], unnormalised
        const float* op = O.data_ptr<float>();
        // the masses: one product per batch item of the task, its heads' rows together, [hn n, T] [T, M]
        at::Tensor Om = M > 0 ? at::empty({G, n, M}, opts) : at::Tensor();
        for (int64_t bi = 0; bi < bn && M > 0; ++bi) {
          at::Tensor into = Om.narrow(0, bi * hn, hn).view({hn * n, M});
          at::mm_out(into, S.narrow(0, bi * hn, hn).view({hn * n, T}), weights_c[b0 + bi]);
        }
        const float* mp = M > 0 ? Om.data_ptr<float>() : nullptr;
        for (int64_t g = 0; g < G; ++g) {
          const int64_t bb = b0 + g / hn, hh = h0 + g % hn;
          for (int64_t i = 0; i < n; ++i) {
            const float il = inv[g * n + i];
            const float* o = op + (g * n + i) * D;
            float* dst = out_p + ((bb * T + r0 + i) * H + hh) * D;
            for (int64_t c = 0; c < D; ++c) dst[c] = o[c] * il;
            float* ms = mass_p + ((bb * H + hh) * T + r0 + i) * M;
            for (int64_t c = 0; c < M; ++c) ms[c] = mp[(g * n + i) * M + c] * il;
          }
        }
        if (N > 0) {  // sum_i r_i p_ij = sum_i (r_i / l_i) e_ij, summed over the task's row blocks
          for (int64_t g = 0; g < G; ++g) {
            receive_rows(sp + g * n * T, rs + g * n * N, n, T, N, recv_t.data() + g * N * T);
          }
        }
        if (W > 0) {
          for (int64_t g = 0; g < G; ++g) {
            const int64_t bb = b0 + g / hn, hh = h0 + g % hn;
            float* dst = band_p + (bb * H + hh) * T * W;
            const float* src = sp + g * n * T;
            for (int64_t i = 0; i < n; ++i) {
              const int64_t row = r0 + i;
              const int64_t lo = std::max<int64_t>(0, row - reach), hi = std::min<int64_t>(T - 1, row + reach);
              const float il = inv[g * n + i];
              float* d = dst + row * W + (lo - row + reach);
              const float* e = src + i * T + lo;
              for (int64_t j = lo; j <= hi; ++j) *d++ = *e++ * il;
            }
          }
        }
      }
      for (int64_t g = 0; g < G && N > 0; ++g) {
        const int64_t bb = b0 + g / hn, hh = h0 + g % hn;
        float* dst = recv_p + (bb * H + hh) * T * N;
        for (int64_t j = 0; j < T; ++j)
          for (int64_t c = 0; c < N; ++c) dst[j * N + c] = recv_t[(g * N + c) * T + j];
      }
    }
  });
  return {out, lse, entropy, masses, received, band};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("onepass", &onepass, "exact attention statistics in one pass (headlens.runner.onepass)");
}
