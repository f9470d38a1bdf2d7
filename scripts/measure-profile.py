#!/usr/bin/env python3
"""Measure decode and prefill step times of a catalog model on your own GPU, for capsim.

Builds a Llama-style decoder with random weights in the shapes of a capsim model catalog entry
(grouped-query attention, SwiGLU MLP, RMSNorm, the LM head on the last position only), times one
decode step over a grid of batch sizes and context lengths and one prefill over a grid of batch
sizes and prompt lengths, and writes two CSV files in the formats `capsim calibrate --measured`
and `[service.vllm.profile]` read:

    OUT/decode.csv   model,params_gb,batch,context,ms
    OUT/prefill.csv  model,params_gb,batch,prompt,ms

Timing does not depend on the weights' values. On CUDA each step is captured as a CUDA graph (as
vLLM's decode path is) and the figure is the median of `--iters` replays after warm-up. What does
not fit in the device's free memory is skipped and listed. Dense models only: a mixture-of-experts
entry is refused (its expert routing is not modelled here).

Needs Python 3.11+ and PyTorch 2.5+. Examples:

    python3 scripts/measure-profile.py --model llama-3.1-8b --out measured/l40s
    capsim calibrate --gpu l40s --measured measured/l40s/decode.csv --measured measured/l40s/prefill.csv
"""

import argparse
import csv
import math
import os
import sys
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CATALOG = os.path.join(HERE, "..", "sim-core", "catalog", "models.toml")

DECODE_BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
DECODE_CONTEXTS = [128, 512, 1024, 2048, 4096, 8192]
PREFILL_BATCHES = [1, 2, 4, 8, 16]
PREFILL_PROMPTS = [64, 128, 256, 512, 1024, 2048, 4096]


class Shape:
    """The fields of one catalog entry that decide a step's work."""

    def __init__(self, entry, source):
        def need(key):
            if key not in entry:
                raise SystemExit(f"error: {source}: model `{entry.get('id', '?')}`: missing `{key}`")
            return entry[key]

        self.id = need("id")
        self.hidden = int(need("hidden_size"))
        self.layers = int(need("layers"))
        self.heads = int(need("attention_heads"))
        self.kv_heads = int(entry.get("kv_heads", self.heads))
        self.head_dim = int(entry.get("head_dim", self.hidden // self.heads))
        self.ffn = int(need("ffn_size"))
        self.vocab = int(need("vocab_size"))
        self.tied = bool(entry.get("tied_embeddings", False))
        if int(entry.get("experts", 1)) > 1:
            raise SystemExit(
                f"error: {source}: model `{self.id}` is a mixture of experts; this script "
                "measures dense models only"
            )
        if float(entry.get("bytes_per_weight", 2)) != 2:
            raise SystemExit(
                f"error: {source}: model `{self.id}` has bytes_per_weight "
                f"{entry['bytes_per_weight']}; this script measures 16-bit weights only"
            )
        if self.heads % self.kv_heads:
            raise SystemExit(
                f"error: {source}: model `{self.id}`: attention_heads ({self.heads}) must be a "
                f"multiple of kv_heads ({self.kv_heads})"
            )

    def params(self):
        """Weights the model allocates (the embedding once when tied)."""
        q = self.heads * self.head_dim
        kv = 2 * self.kv_heads * self.head_dim
        per_layer = self.hidden * (q + kv) + q * self.hidden + 3 * self.hidden * self.ffn
        per_layer += 2 * self.hidden  # the two norms
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return self.layers * per_layer + embeddings + self.hidden

    def params_gb(self):
        return self.params() * 2 / 1e9

    def kv_bytes(self, batch, context):
        return self.layers * 2 * batch * self.kv_heads * context * self.head_dim * 2


def load_shape(catalog, model_id):
    with open(catalog, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SystemExit(f"error: {catalog}: {e}")
    entries = doc.get("model", [])
    for entry in entries:
        if entry.get("id") == model_id:
            return Shape(entry, catalog)
    ids = ", ".join(e.get("id", "?") for e in entries)
    raise SystemExit(f"error: {catalog}: no model `{model_id}`; the catalog has: {ids}")


def int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, found `{text}`")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, found `{text}`")
    return values


def write_csv(path, header, rows):
    """Writes `rows` under `header` to a temporary name, then renames it into place."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


class Decoder:
    """A Llama-style decoder with random weights."""

    def __init__(self, torch, shape, device, dtype):
        self.t, self.s = torch, shape
        gen = torch.Generator(device="cpu").manual_seed(0)

        def w(*dims):
            return (torch.randn(*dims, generator=gen, dtype=torch.float32) * 0.02).to(device, dtype)

        h, hd = shape.hidden, shape.head_dim
        self.embed = w(shape.vocab, h)
        self.head = self.embed if shape.tied else w(shape.vocab, h)
        self.norm = torch.ones(h, device=device, dtype=dtype)
        self.layers = []
        for _ in range(shape.layers):
            self.layers.append(
                {
                    "qkv": w((shape.heads + 2 * shape.kv_heads) * hd, h),
                    "o": w(h, shape.heads * hd),
                    "gate_up": w(2 * shape.ffn, h),
                    "down": w(h, shape.ffn),
                    "n1": torch.ones(h, device=device, dtype=dtype),
                    "n2": torch.ones(h, device=device, dtype=dtype),
                }
            )

    def _norm(self, x, weight):
        var = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * self.t.rsqrt(var + 1e-5)).to(x.dtype) * weight

    def _attend(self, q, k, v, causal):
        F = self.t.nn.functional
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        except TypeError:  # PyTorch before 2.5: repeat the KV heads
            rep = q.shape[1] // k.shape[1]
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def forward(self, tokens, cache=None, position=0):
        """`tokens` [batch, n]; with `cache` ([layers, 2, batch, kv_heads, len, head_dim]) a decode
        step writing position `position` and attending to positions 0..=position."""
        s, F = self.s, self.t.nn.functional
        b, n = tokens.shape
        hd = s.head_dim
        x = F.embedding(tokens, self.embed)
        for i, layer in enumerate(self.layers):
            y = self._norm(x, layer["n1"]) @ layer["qkv"].T
            q, k, v = y.split([s.heads * hd, s.kv_heads * hd, s.kv_heads * hd], dim=-1)
            q = q.view(b, n, s.heads, hd).transpose(1, 2)
            k = k.view(b, n, s.kv_heads, hd).transpose(1, 2)
            v = v.view(b, n, s.kv_heads, hd).transpose(1, 2)
            if cache is None:
                a = self._attend(q, k, v, causal=True)
            else:
                cache[i, 0, :, :, position : position + 1] = k
                cache[i, 1, :, :, position : position + 1] = v
                a = self._attend(
                    q, cache[i, 0, :, :, : position + 1], cache[i, 1, :, :, : position + 1], False
                )
            x = x + a.transpose(1, 2).reshape(b, n, s.heads * hd) @ layer["o"].T
            g, u = (self._norm(x, layer["n2"]) @ layer["gate_up"].T).chunk(2, dim=-1)
            x = x + (F.silu(g) * u) @ layer["down"].T
        return self._norm(x[:, -1], self.norm) @ self.head.T


def median_ms(torch, step, device, iters, warm, graph):
    """Median time of `step()` in milliseconds; on CUDA replayed from a CUDA graph if `graph`."""
    cuda = device.startswith("cuda")
    if cuda and graph:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(stream)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step()
        run = g.replay
    else:
        run = step
    for _ in range(warm):
        run()
    times = []
    for _ in range(iters):
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def free_bytes(torch, device):
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info()
        return free
    return math.inf


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a catalog model id, such as llama-3.1-8b")
    p.add_argument("--catalog", default=DEFAULT_CATALOG, help="a TOML file of [[model]] entries")
    p.add_argument("--out", default="measured", help="folder for decode.csv and prefill.csv")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (cpu only checks the script)")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp16"])
    p.add_argument("--batches", type=int_list, default=DECODE_BATCHES, help="decode batch sizes")
    p.add_argument("--contexts", type=int_list, default=DECODE_CONTEXTS, help="decode context lengths")
    p.add_argument("--prefill-batches", type=int_list, default=PREFILL_BATCHES)
    p.add_argument("--prompts", type=int_list, default=PREFILL_PROMPTS, help="prefill prompt lengths")
    p.add_argument("--max-prefill-tokens", type=int, default=32768, help="largest batch x prompt")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--no-cuda-graph", action="store_true", help="time eager steps instead")
    args = p.parse_args()

    shape = load_shape(args.catalog, args.model)
    try:
        import torch
    except ImportError:
        raise SystemExit("error: this script needs PyTorch (pip install torch)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; pass --device cpu to check the script on a CPU")
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    graph = not args.no_cuda_graph
    model = Decoder(torch, shape, args.device, dtype)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"{shape.id}: {shape.params() / 1e9:.2f} B parameters ({shape.params_gb():.2f} GB) on {name}")
    params_gb = f"{shape.params_gb():.2f}"
    skipped = []

    decode = []
    with torch.inference_mode():
        for context in args.contexts:
            for batch in args.batches:
                # The cache, plus room for the step's activations and logits.
                need = shape.kv_bytes(batch, context + 1) + batch * shape.vocab * 4 * 2
                if need > 0.9 * free_bytes(torch, args.device):
                    skipped.append(f"decode batch {batch} context {context}")
                    continue
                cache = torch.zeros(
                    shape.layers, 2, batch, shape.kv_heads, context + 1, shape.head_dim,
                    device=args.device, dtype=dtype,
                )
                tokens = torch.randint(0, shape.vocab, (batch, 1), device=args.device)
                step = lambda: model.forward(tokens, cache, position=context)
                ms = median_ms(torch, step, args.device, args.iters, args.warmup, graph)
                decode.append([shape.id, params_gb, batch, context, f"{ms:.4f}"])
                print(f"decode  batch {batch:4} context {context:6}: {ms:9.3f} ms", flush=True)
                del cache
        prefill = []
        for prompt in args.prompts:
            for batch in args.prefill_batches:
                if batch * prompt > args.max_prefill_tokens:
                    skipped.append(f"prefill batch {batch} prompt {prompt} (over --max-prefill-tokens)")
                    continue
                need = batch * prompt * (shape.hidden * 8 + 2 * shape.ffn * 2) * 2
                if need > 0.9 * free_bytes(torch, args.device):
                    skipped.append(f"prefill batch {batch} prompt {prompt}")
                    continue
                tokens = torch.randint(0, shape.vocab, (batch, prompt), device=args.device)
                step = lambda: model.forward(tokens)
                ms = median_ms(torch, step, args.device, args.iters, args.warmup, graph)
                prefill.append([shape.id, params_gb, batch, prompt, f"{ms:.4f}"])
                print(f"prefill batch {batch:4} prompt  {prompt:6}: {ms:9.3f} ms", flush=True)

    decode_path = os.path.join(args.out, "decode.csv")
    prefill_path = os.path.join(args.out, "prefill.csv")
    write_csv(decode_path, ["model", "params_gb", "batch", "context", "ms"], decode)
    write_csv(prefill_path, ["model", "params_gb", "batch", "prompt", "ms"], prefill)
    print(f"wrote {decode_path} ({len(decode)} rows), {prefill_path} ({len(prefill)} rows)")
    if skipped:
        print(f"skipped (not enough free memory, or over a limit): {'; '.join(skipped)}")
    print(
        "next: capsim calibrate --gpu GPU "
        f"--measured {decode_path} --measured {prefill_path}\n"
        "  or, in a scenario's [service.vllm.profile]: "
        f'decode = "{decode_path}", prefill = "{prefill_path}"'
    )


if __name__ == "__main__":
    sys.exit(main())
