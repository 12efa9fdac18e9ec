#!/usr/bin/env python3
"""Fine-tunes TierKV's bundled model on a GPU, on the rows `tierkv train --export-data` wrote.

The Java trainer (`tierkv train`, libtorch on the CPU) takes about 50 s a step on the curriculum's last stage
here; this script runs the same task on CUDA. It trains on exactly the rows the Java trainer would draw for
that stage (same generators, same seed, same supervised positions, `TrainingData` in the model module), with
the same loss (cross-entropy on the supervised positions only), the same optimiser (AdamW, weight decay 0.01,
gradient norm clipped to 1) and a linear warm-up then a cosine down to --min-lr-ratio of --lr.

    java -jar bench/target/tierkv.jar train --export-data dist/train-data.safetensors --seed 1
    python3 model/src/main/python/train_gpu.py --init model/src/main/resources/io/tierkv/model/bundled \\
        --data dist/train-data.safetensors --out out/gpu-model --max-seconds 240
    python3 model/src/main/python/train_gpu.py --data dist/train-data.safetensors --dry-run   # no torch needed

The last --heldout rows of the file are never trained on: their loss and accuracy are logged every
--eval-every steps and at the end. Accuracy is per supervised token and per answer line (every token of a
prompt's answer line, its closing ';' included, is the argmax: what greedy decoding would reproduce, the
trainer's line accuracy), the line accuracy also for 1-round and multi-round prompts apart.

Length of the run: --steps N trains N steps. With --steps 0 (the default) the script times its first
--warmup steps and then fixes the number of steps that fits in --max-seconds; it logs that number, and a
rerun with --steps <that number> repeats the run (same seeds, deterministic kernels where torch has them).
--max-seconds is also a hard stop: the model is saved when it is reached.

Output (--out): model.safetensors (float32, the bundled file's tensor names, the output embedding tied to
the input one, so no lm_head.weight), config.json and tokenizer.json copied from --init (the shape is
unchanged), train.log (CSV of the steps, then the held-out lines) and train-summary.json.
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys
import time

FORMAT = "tierkv-train-data"
IGNORE = -100
DTYPES = {"U8": ("B", 1), "I16": ("h", 2), "I64": ("q", 8)}


def read_data(path):
    """The export as {name: memoryview of ints} plus its metadata, validated (standard library only)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r}); write it with tierkv train --export-data")
    if sys.byteorder != "little":
        raise ValueError("this reader assumes a little-endian machine")
    data = memoryview(raw)[8 + n:]
    t = {}
    for name, info in header.items():
        if info["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, expected one of {sorted(DTYPES)}")
        code, size = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor {name} lies outside the data section of {len(data)} bytes: truncated?")
        if end - begin != size * math.prod(info["shape"]):
            raise ValueError(f"{path}: tensor {name}: offsets do not match its shape {info['shape']}")
        t[name] = data[begin:end].cast(code)
    for name in ("tokens", "offsets", "spans", "kind", "rounds"):
        if name not in t:
            raise ValueError(f"{path}: tensor {name} is missing")
    return t, meta


def validate(t, meta):
    """Checks the export's invariants (see TrainingData's javadoc); returns the number of rows."""
    tokens, offsets, spans = t["tokens"], t["offsets"], t["spans"]
    rows = len(offsets) - 1
    vocab = int(meta["vocab_size"])
    if rows <= 0 or len(t["kind"]) != rows or len(t["rounds"]) != rows:
        raise ValueError(f"{rows} rows but {len(t['kind'])} kinds and {len(t['rounds'])} rounds")
    if offsets[0] != 0 or offsets[rows] != len(tokens) or any(offsets[i] + 2 > offsets[i + 1] for i in range(rows)):
        raise ValueError("offsets are not increasing from 0 to the token count with rows of >= 2 tokens")
    if min(tokens) < 0 or max(tokens) >= vocab:
        raise ValueError(f"token ids outside [0, {vocab})")
    row, prev = 0, 0
    for s in range(len(spans) // 2):
        b, e = spans[2 * s], spans[2 * s + 1]
        while row < rows and offsets[row + 1] <= b:
            row += 1
        if b < prev or e <= b or row == rows or e > offsets[row + 1] - 1:
            raise ValueError(f"span {s} [{b}, {e}) is out of order, empty or not inside one row short of its last token")
        prev = e
    for r in range(rows):
        if t["kind"][r] not in (0, 1, 2) or (t["kind"][r] == 0) != (t["rounds"][r] >= 1):
            raise ValueError(f"row {r}: kind {t['kind'][r]} with {t['rounds'][r]} rounds")
    return rows


def init_tensor_names(path):
    """The tensor names of a safetensors file, from its header."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return [k for k in json.loads(f.read(n)) if k != "__metadata__"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="file written by tierkv train --export-data")
    p.add_argument("--init", help="model directory to start from (config.json, model.safetensors, tokenizer.json)")
    p.add_argument("--out", help="output directory")
    p.add_argument("--dry-run", action="store_true", help="only read and validate --data (no torch needed)")
    p.add_argument("--steps", type=int, default=0, help="steps; 0: as many as fit in --max-seconds (default)")
    p.add_argument("--max-seconds", type=float, default=240, help="time box of the training loop (default 240)")
    p.add_argument("--batch", type=int, default=64, help="rows per step (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate (default 1e-3)")
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="the cosine ends at this share of --lr (default 0.1)")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps, also the timing probe (default 100)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--heldout", type=int, default=1024, help="last rows of --data kept out of training (default 1024)")
    p.add_argument("--eval-every", type=int, default=250, help="held-out evaluation every this many steps (default 250)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cuda", help="torch device (default cuda; cpu for a smoke test)")
    a = p.parse_args(argv)
    if not a.dry_run and (a.init is None or a.out is None):
        p.error("--init and --out are needed unless --dry-run")
    if a.steps < 0 or a.batch <= 0 or a.warmup <= 0 or a.heldout <= 0 or a.eval_every <= 0 or not a.max_seconds > 0 or not a.lr > 0:
        p.error("--steps must be >= 0; --batch, --warmup, --heldout, --eval-every, --max-seconds and --lr > 0")
    return a


def main(argv):
    a = parse_args(argv)
    t, meta = read_data(a.data)
    rows = validate(t, meta)
    multi = sum(1 for r in t["rounds"] if r > 1)
    warm = sum(1 for k in t["kind"] if k != 0)
    sup = sum(t["spans"][2 * s + 1] - t["spans"][2 * s] for s in range(len(t["spans"]) // 2))
    print(f"{a.data}: {rows} rows, {len(t['tokens'])} tokens, {sup} supervised; {multi} multi-round prompts,"
          f" {warm} warm-up rows; seed {meta.get('seed')}, stage {meta.get('stage')}", flush=True)
    if a.heldout >= rows:
        raise SystemExit(f"--heldout {a.heldout} leaves no rows of {rows} to train on")
    if a.dry_run:
        print("dry run: the data file is valid")
        return 0
    train(a, t, meta, rows)
    return 0


def train(a, t, meta, rows):
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts: deterministic cuBLAS
    import torch
    import torch.nn.functional as F
    from transformers import LlamaForCausalLM
    from safetensors.torch import save_file

    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    dev = torch.device(a.device)
    device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else a.device
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "train.log"), "w")

    def say(line):
        print(line, flush=True)
        log.write("# " + line + "\n")
        log.flush()

    def tensor(name):
        kinds = {"B": torch.uint8, "h": torch.int16, "q": torch.int64}
        return torch.frombuffer(bytearray(t[name].cast("B")), dtype=kinds[t[name].format]).to(torch.int64)

    # The data on the device: tokens (int64), the supervised mask, the rows' starts and input lengths.
    tokens = tensor("tokens").to(dev)
    offsets = tensor("offsets")
    spans = tensor("spans").view(-1, 2)
    mark = torch.zeros(len(tokens) + 1, dtype=torch.int32)
    mark.index_add_(0, spans[:, 0], torch.ones(len(spans), dtype=torch.int32))
    mark.index_add_(0, spans[:, 1], -torch.ones(len(spans), dtype=torch.int32))
    supervised = (mark.cumsum(0)[:-1] > 0).to(dev)
    starts = offsets[:-1]
    lengths = offsets[1:] - offsets[:-1] - 1  # inputs: all but the last token
    kind = tensor("kind").tolist()
    rounds = tensor("rounds").tolist()
    pad = int(meta["pad_id"])
    semicolon = int(meta["semicolon_id"])
    n_train = rows - a.heldout

    def batch(idx):
        """Right-padded inputs and targets (IGNORE where not supervised) of rows idx, as the Java Batch pads."""
        L = int(lengths[idx].max())
        pos = torch.arange(L)
        at = (starts[idx, None] + pos[None, :]).to(dev)
        valid = (pos[None, :] < lengths[idx, None]).to(dev)
        at = torch.where(valid, at, torch.zeros_like(at))
        inp = torch.where(valid, tokens[at], torch.full_like(at, pad))
        tgt = torch.where(valid & supervised[at], tokens[at + 1], torch.full_like(at, IGNORE))
        return inp, tgt

    model = LlamaForCausalLM.from_pretrained(a.init, attn_implementation="sdpa").float().to(dev)
    vocab = model.config.vocab_size
    if vocab != int(meta["vocab_size"]):
        raise SystemExit(f"the model's vocabulary has {vocab} words, the data's {meta['vocab_size']}")
    tied = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    if not tied:  # TierKV's checkpoints have no lm_head.weight: the output embedding is the input one
        model.lm_head.weight = model.model.embed_tokens.weight
    say(f"model {a.init}: {sum(p.numel() for p in model.parameters()):,} parameters, embeddings tied"
        f" {'by the loader' if tied else 'here'}, torch {torch.__version__}, {device_name}")

    def forward(inp, tgt):
        logits = model(input_ids=inp, use_cache=False).logits.float()
        loss = F.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1), ignore_index=IGNORE)
        return loss, logits.argmax(-1)

    @torch.no_grad()
    def lines(pred, tgt):
        """Per row of a batch: correct and total answer lines. The trainer's rule: a line is a run of
        supervised positions closed by a ';' target (never spanning an unsupervised stretch), and it is
        correct when every token in it is the argmax."""
        pred, tgt = pred.cpu(), tgt.cpu()
        sup = tgt != IGNORE
        close = sup & (tgt == semicolon)
        no = torch.zeros_like(sup[:, :1])
        prev_sup = torch.cat([no, sup[:, :-1]], 1)
        prev_close = torch.cat([no, close[:, :-1]], 1)
        line = (sup & (~prev_sup | prev_close)).reshape(-1).long().cumsum(0)  # a line's id at its positions
        wrong = (sup & (pred != tgt)).reshape(-1).long()
        bad = torch.zeros(line.numel() + 1, dtype=torch.int64).index_add_(0, line, wrong)
        ok = close & (bad[line] == 0).view_as(close)
        return ok.sum(1).tolist(), close.sum(1).tolist()

    @torch.no_grad()
    def evaluate():
        model.eval()
        loss_sum, tok_ok, tok_n = 0.0, 0, 0
        line_ok = {1: 0, 2: 0}
        line_n = {1: 0, 2: 0}
        for b in range(n_train, rows, a.batch):
            idx = torch.arange(b, min(rows, b + a.batch))
            inp, tgt = batch(idx)
            loss, pred = forward(inp, tgt)
            n = int((tgt != IGNORE).sum())
            loss_sum += float(loss) * n
            tok_ok += int(((pred == tgt) & (tgt != IGNORE)).sum())
            tok_n += n
            ok, total = lines(pred, tgt)
            for j, r in enumerate(idx.tolist()):
                if kind[r] == 0:
                    key = 1 if rounds[r] == 1 else 2
                    line_ok[key] += ok[j]
                    line_n[key] += total[j]
        model.train()
        acc = lambda k: line_ok[k] / max(1, line_n[k])
        both = (line_ok[1] + line_ok[2]) / max(1, line_n[1] + line_n[2])
        return loss_sum / max(1, tok_n), tok_ok / max(1, tok_n), both, acc(1), acc(2)

    def held_out(step, seconds):
        loss, tok, line, one, many = evaluate()
        say(f"held-out step {step}: loss {loss:.4f}  token acc {tok:.4f}  line acc {line:.4f}"
            f" (1-round {one:.4f}, multi-round {many:.4f})  {seconds:.0f}s")
        return {"step": step, "loss": loss, "token_acc": tok, "line_acc": line, "line_acc_1round": one, "line_acc_multiround": many}

    names = init_tensor_names(os.path.join(a.init, "model.safetensors"))

    def save():
        """model.safetensors with the init file's tensor names (no lm_head.weight: tied), config and tokenizer."""
        own = model.state_dict()
        missing = [n for n in names if n not in own]
        if missing:
            raise SystemExit(f"the model lacks tensors of {a.init}: {missing[:3]}")
        state = {n: own[n].detach().float().contiguous().cpu() for n in names}
        save_file(state, os.path.join(a.out, "model.safetensors"), metadata={"format": "pt"})
        for f in ("config.json", "tokenizer.json"):
            if os.path.exists(os.path.join(a.init, f)):
                shutil.copy(os.path.join(a.init, f), os.path.join(a.out, f))
        return len(state)

    first = held_out(0, 0)
    model.train()

    # Epochs of shuffled rows; within 16 batches' worth, rows sorted by length so a batch pads little.
    gen = torch.Generator().manual_seed(a.seed)

    def batches():
        while True:
            perm = torch.randperm(n_train, generator=gen)
            chunk = a.batch * 16
            order = []
            for c in range(0, n_train - a.batch + 1, chunk):
                part = perm[c:c + chunk]
                part = part[torch.argsort(lengths[part], stable=True)]
                order += [part[i:i + a.batch] for i in range(0, len(part) - a.batch + 1, a.batch)]
            for i in torch.randperm(len(order), generator=gen).tolist():
                yield order[i]

    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)

    def lr_at(step, total):
        if step <= a.warmup:
            return a.lr * step / a.warmup
        p = min(1.0, (step - a.warmup) / max(1, total - a.warmup))
        return a.lr * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))

    log.write("step,loss,token_acc,lr,tokens,seconds\n")
    total = a.steps if a.steps > 0 else None
    start = time.time()
    seen = 0
    step = 0
    history = [first]
    for idx in batches():
        if total is not None and step >= total:
            break
        if time.time() - start > a.max_seconds:
            say(f"time box of {a.max_seconds:.0f}s reached after {step} of {total} steps")
            break
        step += 1
        lr = lr_at(step, total if total is not None else a.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        inp, tgt = batch(idx)
        loss, pred = forward(inp, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += inp.numel()
        if step % 10 == 0 or step == total:
            sup = tgt != IGNORE
            acc = float(((pred == tgt) & sup).sum()) / max(1, int(sup.sum()))
            log.write(f"{step},{float(loss.detach()):.5f},{acc:.4f},{lr:.6f},{seen},{time.time() - start:.1f}\n")
            log.flush()
            if step % 100 == 0:
                print(f"step {step}  loss {float(loss.detach()):.4f}  token acc {acc:.4f}  lr {lr:.6f}  {time.time() - start:.0f}s", flush=True)
        if step % a.eval_every == 0 or step == a.warmup:
            t1 = time.time()
            history.append(held_out(step, t1 - start))
            save()  # a run cut short still leaves its last evaluated model
            eval_seconds = time.time() - t1
        if total is None and step == a.warmup:
            per_step = (time.time() - start - eval_seconds) / step
            left = a.max_seconds - (time.time() - start) - 10 - eval_seconds  # the last evaluation and saving
            total = step + max(0, int(left / (per_step + eval_seconds / a.eval_every)))
            say(f"{per_step * 1000:.1f} ms a step over the first {step}, {eval_seconds:.1f}s an evaluation:"
                f" {total} steps fit in {a.max_seconds:.0f}s (rerun with --steps {total} to repeat this run)")
    history.append(held_out(step, time.time() - start))

    saved = save()
    summary = {"data": os.path.basename(a.data), "data_seed": meta.get("seed"), "rows": rows, "heldout": a.heldout,
               "steps": step, "batch": a.batch, "lr": a.lr, "warmup": a.warmup, "min_lr_ratio": a.min_lr_ratio,
               "seed": a.seed, "seconds": round(time.time() - start, 1), "tokens": seen, "heldout_history": history,
               "torch": torch.__version__, "device": device_name}
    with open(os.path.join(a.out, "train-summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    say(f"saved {saved} tensors to {a.out} after {step} steps, {time.time() - start:.0f}s")
    log.close()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, OSError) as e:
        print(f"train_gpu.py: {e}", file=sys.stderr)
        sys.exit(2)
