package io.tierkv.model.cuda;

import io.tierkv.core.DType;
import io.tierkv.cuda.ops.CudaPagedProbs;
import io.tierkv.cuda.ops.HalfFloats;
import io.tierkv.cuda.ops.CudaLinear;
import io.tierkv.cuda.ops.PagedKvShape;
import io.tierkv.cuda.ops.PagedPart;
import io.tierkv.cuda.ops.DigestMirror;
import io.tierkv.cuda.ops.DigestShape;
import io.tierkv.cuda.ops.ReferenceOps;
import io.tierkv.cuda.popularity.RadixSelectPopularityCounter;
import io.tierkv.model.generate.HeadSlices;
import io.tierkv.model.generate.HostRead;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The {@link StepDevice} contract in plain Java: "device memory" is heap buffers at made-up addresses, plus native regions
 * named by {@link #external} (the CPU tiers' off-heap arenas, read and written in place), and every kernel is its
 * {@code ReferenceOps} oracle (double accumulation). Elements are little-endian (x86, as the GPU). Slow (it decodes whole matrices and slabs per call) and meant
 * for small models: it exists so that {@link CudaDecoder}'s orchestration runs against the CPU decoder on every build.
 */
final class HostStepDevice implements StepDevice {
    private static final long FIRST_ADDRESS = 1L << 20;
    private final TreeMap<Long, UnsafeBuffer> memory = new TreeMap<>();
    /** The popularity kernel's algorithm in Java (the same digits and tie rule as the device's two-pass select). */
    private final RadixSelectPopularityCounter counter = new RadixSelectPopularityCounter();
    private java.util.List<Runnable> recording; // while capture's work runs: the kernels called, recorded instead of run
    private long next = FIRST_ADDRESS;
    private long allocated;
    private HeadSlices choice;        // the per-head choice, the CPU's own code
    private int choiceHeads;
    private int choiceKvHeads;
    private DigestShape digestShape;  // the digest array, as DigestMirror lays it out:
    private short[] digests;          // bfloat16 boxes (bits 16),
    private byte[] codeDigests;       // or code boxes with a sketch

    @Override
    public long alloc(long bytes) {
        refuseInCapture("alloc");
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the host device holds allocations below 2 GiB, asked for " + bytes);
        }
        long address = next;
        int size = (int) Math.max(bytes, 16);
        memory.put(address, new UnsafeBuffer(new byte[size]));
        next = StepLayout.align(address + size) + StepLayout.ALIGN; // a gap: a range running past its end is an error
        allocated += size;
        return address;
    }

    /** Lets the kernels read and write {@code bytes} of native memory at {@code address} in place (it must stay allocated). */
    @Override
    public void external(long address, long bytes) {
        refuseInCapture("external");
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("an external region must be below 2 GiB, was " + bytes);
        }
        memory.put(address, new UnsafeBuffer(address, (int) bytes));
    }

    /** The buffer holding {@code [address, address + bytes)} and the offset into it. */
    private UnsafeBuffer at(long address, long bytes, int[] offset) {
        Map.Entry<Long, UnsafeBuffer> e = memory.floorEntry(address);
        if (e == null || address - e.getKey() + bytes > e.getValue().capacity()) {
            throw new IllegalArgumentException("host-device range 0x" + Long.toHexString(address) + " + " + bytes + " is in no allocation");
        }
        offset[0] = (int) (address - e.getKey());
        return e.getValue();
    }

    float[] floats(long address, int n) {
        int[] off = new int[1];
        UnsafeBuffer b = at(address, 4L * n, off);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = b.getFloat(off[0] + 4 * i);
        }
        return out;
    }

    void putFloats(long address, float[] values) {
        int[] off = new int[1];
        UnsafeBuffer b = at(address, 4L * values.length, off);
        for (int i = 0; i < values.length; i++) {
            b.putFloat(off[0] + 4 * i, values[i]);
        }
    }

    private int[] ints(long address, int n) {
        int[] off = new int[1];
        UnsafeBuffer b = at(address, 4L * n, off);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = b.getInt(off[0] + 4 * i);
        }
        return out;
    }

    /** {@code n} elements of {@code dtype} from {@code address}, as floats. */
    private float[] typed(long address, DType dtype, int n) {
        if (dtype == DType.F32) {
            return floats(address, n);
        }
        int[] off = new int[1];
        UnsafeBuffer b = at(address, 2L * n, off);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            short s = b.getShort(off[0] + 2 * i);
            out[i] = dtype == DType.BF16 ? HalfFloats.fromBf16(s) : HalfFloats.fromF16(s);
        }
        return out;
    }

    @Override
    public void upload(long dst, ByteBuffer src) {
        refuseInCapture("upload");
        int[] off = new int[1];
        UnsafeBuffer b = at(dst, src.remaining(), off);
        b.putBytes(off[0], src, src.position(), src.remaining());
    }

    @Override
    public void download(long src, ByteBuffer dst) {
        refuseInCapture("download");
        int[] off = new int[1];
        UnsafeBuffer b = at(src, dst.remaining(), off);
        b.getBytes(off[0], dst, dst.position(), dst.remaining());
    }

    @Override
    public void setInt(long address, int value) {
        refuseInCapture("setInt");
        int[] off = new int[1];
        at(address, 4, off).putInt(off[0], value);
    }

    @Override
    public void fill(long address, long bytes, byte value) {
        refuseInCapture("fill");
        int[] off = new int[1];
        at(address, bytes, off).setMemory(off[0], Math.toIntExact(bytes), value);
    }

    @Override
    public void embed(long out, DeviceWeights.Matrix table, int token) {
        if (recorded(() -> embed(out, table, token))) {
            return;
        }
        putFloats(out, typed(table.address() + (long) token * table.cols() * table.dtype().bytes(), table.dtype(), table.cols()));
    }

    @Override
    public void embedRows(long out, DeviceWeights.Matrix table, long ids, int count) {
        if (recorded(() -> embedRows(out, table, ids, count))) {
            return;
        }
        int[] tokens = ints(ids, count);
        for (int t = 0; t < count; t++) {
            if (tokens[t] < 0 || tokens[t] >= table.rows()) { // the kernel writes a NaN row; here the error is clearer
                throw new IllegalArgumentException("token id " + tokens[t] + " is outside the vocabulary of " + table.rows());
            }
            embed(out + 4L * t * table.cols(), table, tokens[t]);
        }
    }

    @Override
    public void rmsNorm(long out, long x, long w, int rows, int dim, float eps) {
        if (recorded(() -> rmsNorm(out, x, w, rows, dim, eps))) {
            return;
        }
        putFloats(out, ReferenceOps.rmsNorm(floats(x, rows * dim), floats(w, dim), rows, dim, eps));
    }

    @Override
    public void gemv(long y, DeviceWeights.Matrix w, long x, long residual) {
        CudaLinear.refuseOverlap("GEMV", y, 4L * w.rows(), x, 4L * w.cols());
        if (recorded(() -> gemv(y, w, x, residual))) {
            return;
        }
        float[] r = residual == 0 ? null : floats(residual, w.rows());
        putFloats(y, ReferenceOps.gemv(typed(w.address(), w.dtype(), w.rows() * w.cols()), floats(x, w.cols()), r, w.rows(), w.cols()));
    }

    @Override
    public void gemm(long y, DeviceWeights.Matrix w, long x, long residual, int rows) {
        CudaLinear.refuseOverlap("GEMM", y, 4L * rows * w.rows(), x, 4L * rows * w.cols());
        if (recorded(() -> gemm(y, w, x, residual, rows))) {
            return;
        }
        float[] r = residual == 0 ? null : floats(residual, rows * w.rows());
        putFloats(y, ReferenceOps.gemm(floats(x, rows * w.cols()), typed(w.address(), w.dtype(), w.rows() * w.cols()), r, rows, w.rows(),
                w.cols()));
    }

    @Override
    public void normGemv(long y, DeviceWeights.Matrix w, long x, long normW, float eps, long residual) {
        CudaLinear.refuseOverlap("fused GEMV", y, 4L * w.rows(), x, 4L * w.cols());
        if (recorded(() -> normGemv(y, w, x, normW, eps, residual))) {
            return;
        }
        float[] r = residual == 0 ? null : floats(residual, w.rows());
        putFloats(y, ReferenceOps.gemv(typed(w.address(), w.dtype(), w.rows() * w.cols()), normed(x, normW, w.cols(), eps), r, w.rows(),
                w.cols()));
    }

    @Override
    public void normGemvRope(long qkv, DeviceWeights.Matrix wqkv, long x, long normW, float eps, long bias, int heads, int kvHeads,
                             int headDim, int position, long cos, long sin, int tableRows, PagedKvShape kv, long slot, int row) {
        CudaLinear.refuseOverlap("fused GEMV", qkv, 4L * wqkv.rows(), x, 4L * wqkv.cols());
        if (recorded(() -> normGemvRope(qkv, wqkv, x, normW, eps, bias, heads, kvHeads, headDim, position, cos, sin, tableRows, kv, slot, row))) {
            return;
        }
        StepDevice.checkStackedQkv(wqkv, heads, kvHeads, headDim);
        normGemv(qkv, wqkv, x, normW, eps, bias);
        long k = qkv + 4L * heads * headDim;
        rope(qkv, k, heads, kvHeads, headDim, position, cos, sin, tableRows);
        if (slot != 0) {
            appendRows(kv, slot, 1, 0, row, 1, k, k + 4L * kvHeads * headDim);
        }
    }

    @Override
    public void normGemvRopeAt(long qkv, DeviceWeights.Matrix wqkv, long x, long normW, float eps, long bias, int heads, int kvHeads,
                               int headDim, long params, long cos, long sin, int tableRows, PagedKvShape kv, long slab) {
        CudaLinear.refuseOverlap("fused GEMV", qkv, 4L * wqkv.rows(), x, 4L * wqkv.cols());
        if (recorded(() -> normGemvRopeAt(qkv, wqkv, x, normW, eps, bias, heads, kvHeads, headDim, params, cos, sin, tableRows, kv, slab))) {
            return;
        }
        int[] p = ints(params, 3);
        normGemvRope(qkv, wqkv, x, normW, eps, bias, heads, kvHeads, headDim, p[0], cos, sin, tableRows, kv, slab + p[2] * kv.slotBytes(),
                p[1]);
    }

    @Override
    public void normSwiGlu(long y, DeviceWeights.Matrix wGateUp, long x, long normW, float eps) {
        CudaLinear.refuseOverlap("fused GEMV", y, 4L * (wGateUp.rows() / 2), x, 4L * wGateUp.cols());
        if (recorded(() -> normSwiGlu(y, wGateUp, x, normW, eps))) {
            return;
        }
        int f = wGateUp.rows() / 2;
        float[] both = ReferenceOps.gemv(typed(wGateUp.address(), wGateUp.dtype(), wGateUp.rows() * wGateUp.cols()),
                normed(x, normW, wGateUp.cols(), eps), null, wGateUp.rows(), wGateUp.cols());
        putFloats(y, ReferenceOps.siluMul(java.util.Arrays.copyOfRange(both, 0, f), java.util.Arrays.copyOfRange(both, f, 2 * f)));
    }

    /** rmsNorm(x) * normW over {@code dim} floats, as {@link #rmsNorm} writes it. */
    private float[] normed(long x, long normW, int dim, float eps) {
        return ReferenceOps.rmsNorm(floats(x, dim), floats(normW, dim), 1, dim, eps);
    }

    @Override
    public void rope(long q, long k, int tokens, int heads, int kvHeads, int headDim, int start, long cos, long sin, int tableRows) {
        if (recorded(() -> rope(q, k, tokens, heads, kvHeads, headDim, start, cos, sin, tableRows))) {
            return;
        }
        if (start < 0 || start + tokens > tableRows) {
            throw new IllegalArgumentException("positions " + start + " .. " + (start + tokens - 1) + " are outside the RoPE tables of "
                    + tableRows + " rows");
        }
        int n = tableRows * (headDim / 2);
        float[] c = floats(cos, n);
        float[] s = floats(sin, n);
        float[] qv = floats(q, tokens * heads * headDim);
        float[] kv = floats(k, tokens * kvHeads * headDim);
        ReferenceOps.rope(qv, tokens, heads, headDim, start, c, s);
        ReferenceOps.rope(kv, tokens, kvHeads, headDim, start, c, s);
        putFloats(q, qv);
        putFloats(k, kv);
    }

    @Override
    public void appendRows(PagedKvShape shape, long slab, long capacity, int slot, int row, int rows, long k, long v) {
        if (recorded(() -> appendRows(shape, slab, capacity, slot, row, rows, k, v))) {
            return;
        }
        if (slot < 0 || slot >= capacity || rows < 1 || row < 0 || row + rows > shape.blockSize()) {
            throw new IllegalArgumentException("slot " + slot + " rows " + row + " .. " + (row + rows - 1) + " outside " + capacity
                    + " slots of " + shape.blockSize());
        }
        int elems = rows * shape.kvHeads() * shape.headDim();
        long first = slab + slot * shape.slotBytes() + (long) row * shape.kvHeads() * shape.headDim() * shape.dtype().bytes();
        putTyped(first, shape.dtype(), floats(k, elems));
        putTyped(first + shape.halfBytes(), shape.dtype(), floats(v, elems));
    }

    private void putTyped(long address, DType dtype, float[] values) {
        if (dtype == DType.F32) {
            putFloats(address, values);
            return;
        }
        int[] off = new int[1];
        UnsafeBuffer b = at(address, 2L * values.length, off);
        for (int i = 0; i < values.length; i++) {
            b.putShort(off[0] + 2 * i, dtype == DType.BF16 ? HalfFloats.toBf16(values[i]) : HalfFloats.toF16(values[i]));
        }
    }

    @Override
    public void attendParts(PagedKvShape shape, long q, int rows, int firstPosition, PagedPart first, PagedPart second, float scale,
                            long out, long lse) {
        if (recorded(() -> attendParts(shape, q, rows, firstPosition, first, second, scale, out, lse))) {
            return;
        }
        if (firstPosition < 0 && rows != 1) {
            throw new IllegalArgumentException("rows without a first position: " + rows);
        }
        float[] qs = floats(q, rows * shape.heads() * shape.headDim());
        ReferenceOps.Attention a = part(shape, qs, rows, firstPosition, first, scale);
        if (second.nBlocks() > 0) { // each part on its own, then merged: the bits of two launches and a merge
            a = ReferenceOps.merge(a, part(shape, qs, rows, firstPosition, second, scale), rows * shape.heads(), shape.headDim());
        }
        putFloats(out, a.out());
        putFloats(lse, a.lse());
    }

    private ReferenceOps.Attention part(PagedKvShape shape, float[] q, int rows, int firstPosition, PagedPart p, float scale) {
        int n = p.nBlocks();
        int[] slotIds = n == 0 ? new int[0] : ints(p.slots(), n);
        int[] valid = p.validRows() == 0 || n == 0 ? null : ints(p.validRows(), n);
        float[] slabValues = n == 0 ? new float[0] : typed(p.slab(), shape.dtype(), (int) (p.slabBytes() / shape.dtype().bytes()));
        byte[] mask = bytes(p.mask(), n * shape.blockSize());
        byte[] headMask = bytes(p.headMask(), n * shape.kvHeads());
        if (firstPosition < 0) {
            return ReferenceOps.pagedAttention(shape, q, slabValues, slotIds, valid, mask, headMask, n, scale);
        }
        int[] blocks = p.blockIndex() == 0 || n == 0 ? null : ints(p.blockIndex(), n);
        return ReferenceOps.pagedAttentionRows(shape, q, rows, firstPosition, blocks, slabValues, slotIds, valid, mask, headMask, n, scale);
    }

    @Override
    public void attendLive(PagedKvShape shape, long q, long slab, long slabBytes, long slots, long validRows, long mask, long headMask,
                           long liveBlocks, int maxBlocks, float scale, long out, long lse) {
        if (recorded(() -> attendLive(shape, q, slab, slabBytes, slots, validRows, mask, headMask, liveBlocks, maxBlocks, scale, out,
                lse))) {
            return;
        }
        int live = Math.max(0, Math.min(maxBlocks, ints(liveBlocks, 1)[0]));
        attend(shape, q, slab, slabBytes, slots, validRows, mask, headMask, live, scale, out, lse);
    }

    /** {@code n} bytes at {@code address}, or null for address 0 or n 0. */
    private byte[] bytes(long address, int n) {
        if (address == 0 || n == 0) {
            return null;
        }
        int[] off = new int[1];
        UnsafeBuffer b = at(address, n, off);
        byte[] out = new byte[n];
        b.getBytes(off[0], out);
        return out;
    }

    @Override
    public void merge(long o1, long lse1, long o2, long lse2, long out, long lseOut, int heads, int headDim) {
        if (recorded(() -> merge(o1, lse1, o2, lse2, out, lseOut, heads, headDim))) {
            return;
        }
        ReferenceOps.Attention m = ReferenceOps.merge(new ReferenceOps.Attention(floats(o1, heads * headDim), floats(lse1, heads)),
                new ReferenceOps.Attention(floats(o2, heads * headDim), floats(lse2, heads)), heads, headDim);
        putFloats(out, m.out());
        putFloats(lseOut, m.lse());
    }

    @Override
    public void probs(PagedKvShape shape, long q, PagedPart first, PagedPart second, float scale, long lse, long probs, int stride) {
        if (recorded(() -> probs(shape, q, first, second, scale, lse, probs, stride))) {
            return;
        }
        for (PagedPart part : new PagedPart[] {first, second}) {
            int n = part.nBlocks();
            if (n == 0) {
                continue;
            }
            float[] p = floats(probs, shape.heads() * stride);
            CudaPagedProbs.reference(shape, floats(q, shape.heads() * shape.headDim()), typed(part.slab(), shape.dtype(),
                    (int) (part.slabBytes() / shape.dtype().bytes())), ints(part.slots(), n), part.validRows() == 0 ? null
                    : ints(part.validRows(), n), bytes(part.mask(), n * shape.blockSize()), bytes(part.headMask(), n * shape.kvHeads()),
                    ints(part.blockIndex(), n), n, scale, floats(lse, shape.heads()), p, stride);
            putFloats(probs, p);
        }
    }

    @Override
    public void topK(long probs, int batches, int heads, int stride, int keys, int k, long out, long outCount) {
        if (recorded(() -> topK(probs, batches, heads, stride, keys, k, out, outCount))) {
            return;
        }
        int[] selected = new int[k];
        for (int b = 0; b < batches; b++) {
            float[] p = floats(probs + 4L * b * heads * stride, heads * stride);
            int n = counter.selectTopK(p, 0, heads, stride, keys, k, selected);
            for (int i = 0; i < n; i++) {
                setInt(out + 4L * ((long) b * k + i), selected[i]);
            }
            setInt(outCount + 4L * b, n);
        }
    }

    @Override
    public void add(long out, long a, long b, int n) {
        if (recorded(() -> add(out, a, b, n))) {
            return;
        }
        putFloats(out, ReferenceOps.add(floats(a, n), floats(b, n)));
    }

    @Override
    public void siluMul(long out, long gate, long up, int n) {
        if (recorded(() -> siluMul(out, gate, up, n))) {
            return;
        }
        putFloats(out, ReferenceOps.siluMul(floats(gate, n), floats(up, n)));
    }

    @Override
    public void argmax(long x, int n, long out) {
        if (recorded(() -> argmax(x, n, out))) {
            return;
        }
        float[] v = floats(x, n);
        int best = Integer.MAX_VALUE;
        float bestV = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            if (v[i] > bestV || (v[i] == bestV && i < best)) { // the kernel's rule: NaN never wins
                bestV = v[i];
                best = i;
            }
        }
        setInt(out, best);
    }

    @Override
    public long digests(DigestShape shape, int capacity) {
        refuseInCapture("digests");
        if (digestShape != null) {
            throw new IllegalStateException("the device's digest array is already allocated");
        }
        long bytes = shape.bytesPerBlock() * capacity;
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the host device holds digest arrays below 2 GiB, asked for " + bytes);
        }
        digestShape = shape;
        if (shape.bits() == 16) {
            digests = new short[(int) (bytes / 2)];
        } else {
            codeDigests = new byte[(int) bytes];
        }
        allocated += bytes;
        return bytes;
    }

    private DigestShape digestShape() {
        if (digestShape == null) {
            throw new IllegalStateException("no digest array: call digests(shape, capacity) first");
        }
        return digestShape;
    }

    @Override
    public void digestUpdate(PagedKvShape kv, long slab, long slabBytes, long keyOffset, long slots, long digestIndexes, int nBlocks) {
        if (recorded(() -> digestUpdate(kv, slab, slabBytes, keyOffset, slots, digestIndexes, nBlocks))) {
            return;
        }
        DigestShape shape = digestShape();
        if (nBlocks == 0) {
            return;
        }
        int elem = kv.dtype().bytes();
        float[] values = typed(slab, kv.dtype(), (int) (slabBytes / elem));
        int capacity = (int) (slabBytes / kv.slotBytes());
        if (shape.bits() == 16) {
            DigestMirror.update(shape, values, kv.slotBytes() / elem, keyOffset / elem, capacity, ints(slots, nBlocks),
                    ints(digestIndexes, nBlocks), nBlocks, digests);
        } else {
            DigestMirror.updateSketch(shape, values, kv.slotBytes() / elem, keyOffset / elem, capacity, ints(slots, nBlocks),
                    ints(digestIndexes, nBlocks), nBlocks, codeDigests);
        }
    }

    @Override
    public void digestScore(long q, int heads, float scale, long digestIndexes, int nBlocks, long out) {
        if (recorded(() -> digestScore(q, heads, scale, digestIndexes, nBlocks, out))) {
            return;
        }
        DigestShape shape = digestShape();
        if (nBlocks == 0) {
            return;
        }
        float[] scores = new float[nBlocks * heads];
        float[] qv = floats(q, heads * shape.headDim());
        int[] indexes = ints(digestIndexes, nBlocks);
        if (shape.bits() == 16) {
            DigestMirror.bound(shape, qv, heads, scale, digests, indexes, nBlocks, scores);
        } else {
            DigestMirror.score(shape, qv, heads, scale, codeDigests, indexes, nBlocks, scores);
        }
        putFloats(out, scores);
    }

    @Override
    public void digestExact(PagedKvShape kv, long q, float scale, long slab, long slabBytes, long keyOffset, long slots, long validRows,
                            long mask, long headMask, int nBlocks, long out) {
        if (recorded(() -> digestExact(kv, q, scale, slab, slabBytes, keyOffset, slots, validRows, mask, headMask, nBlocks, out))) {
            return;
        }
        if (nBlocks == 0) {
            return;
        }
        int elem = kv.dtype().bytes();
        float[] scores = new float[nBlocks * kv.heads()];
        DigestMirror.exact(kv, floats(q, kv.heads() * kv.headDim()), scale, typed(slab, kv.dtype(), (int) (slabBytes / elem)), keyOffset / elem,
                (int) (slabBytes / kv.slotBytes()), ints(slots, nBlocks), validRows == 0 ? null : ints(validRows, nBlocks), bytes(mask, nBlocks * kv.blockSize()),
                bytes(headMask, nBlocks * kv.kvHeads()), nBlocks, scores);
        putFloats(out, scores);
    }

    @Override
    public void headSlices(long scores, int n, int heads, int kvHeads, int cap, long capFrom, double min, long value, long headMask,
                           long taken) {
        if (recorded(() -> headSlices(scores, n, heads, kvHeads, cap, capFrom, min, value, headMask, taken))) {
            return;
        }
        if (choice == null || choiceHeads != heads || choiceKvHeads != kvHeads) {
            choice = new HeadSlices(HostRead.DEFAULT, heads, kvHeads); // min and cap come as arguments
            choiceHeads = heads;
            choiceKvHeads = kvHeads;
        }
        int limit = capFrom == 0 ? cap : Math.min(cap, ints(capFrom, 1)[0]);
        int chosen = choice.choose(floats(scores, n * heads), n, limit, min);
        byte[] mask = new byte[n * kvHeads];
        for (int i = 0; i < n; i++) {
            for (int kh = 0; kh < kvHeads; kh++) {
                mask[i * kvHeads + kh] = choice.headChosen(i, kh) ? (byte) 1 : 0;
            }
        }
        int[] off = new int[1];
        at(headMask, mask.length, off).putBytes(off[0], mask);
        at(taken, 4, off).putInt(off[0], chosen);
    }

    /** The kernels {@code work} calls, recorded in order and run again by each launch; memory calls are refused inside. */
    @Override
    public StepGraph capture(Runnable work) {
        if (recording != null) {
            throw new IllegalStateException("a capture is already under way");
        }
        java.util.List<Runnable> kernels = new java.util.ArrayList<>();
        recording = kernels;
        try {
            work.run();
        } finally {
            recording = null;
        }
        return new StepGraph() {
            private boolean closed;

            @Override
            public void launch() {
                if (closed) {
                    throw new IllegalStateException("the step graph is closed");
                }
                refuseInCapture("a graph launch");
                kernels.forEach(Runnable::run);
            }

            @Override
            public boolean stale() {
                return false; // the recorded kernels hold no memory of their own
            }

            @Override
            public void close() {
                closed = true;
            }
        };
    }

    /** While capturing: records {@code kernel} and returns true (the caller returns); otherwise false (the caller runs it). */
    private boolean recorded(Runnable kernel) {
        if (recording == null) {
            return false;
        }
        recording.add(kernel);
        return true;
    }

    private void refuseInCapture(String call) {
        if (recording != null) {
            throw new IllegalStateException(call + " inside a captured step: what a graph replays must be kernels only");
        }
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public void close() {
        memory.clear();
        digests = null;
        codeDigests = null;
    }
}
