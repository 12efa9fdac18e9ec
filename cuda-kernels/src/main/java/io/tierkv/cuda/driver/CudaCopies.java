package io.tierkv.cuda.driver;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Asynchronous copies between device and pinned buffers, ordered on a stream. Every range is checked
 * first, so a bad offset fails here with the buffer, offset and length named, not as a device fault.
 * The source must stay unchanged and both buffers open until the stream passes the copy (record a
 * {@link CudaEvent} after it).
 */
public final class CudaCopies {
    private CudaCopies() {
    }

    /** Copies {@code bytes} from device {@code src + srcOffset} to pinned {@code dst + dstOffset}. */
    public static void deviceToHostAsync(PinnedBuffer dst, long dstOffset, DeviceBuffer src, long srcOffset, long bytes,
                                         CudaStream stream) {
        checkRange("dst (pinned)", dst.bytes(), dstOffset, bytes);
        checkRange("src (device)", src.bytes(), srcOffset, bytes);
        if (bytes == 0) {
            return;
        }
        stream.context().makeCurrent();
        int r = JCudaDriver.cuMemcpyDtoHAsync(dst.pointer(dstOffset), src.pointer(srcOffset), bytes, stream.handle());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuMemcpyDtoHAsync of " + bytes + " bytes (device offset " + srcOffset + " -> pinned offset " + dstOffset + ")");
        }
    }

    /**
     * Copies the first {@code rowBytes} bytes of {@code rows} device rows, {@code srcPitch} bytes apart from
     * {@code src + srcOffset}, to pinned {@code dst + dstOffset}, packed (one {@code cuMemcpy2DAsync}): the used columns of
     * rows sized for the longest sequence.
     */
    public static void deviceRowsToHostAsync(PinnedBuffer dst, long dstOffset, DeviceBuffer src, long srcOffset, long srcPitch,
                                             long rowBytes, int rows, CudaStream stream) {
        if (rows < 0 || rowBytes < 0 || rowBytes > srcPitch) {
            throw new IllegalArgumentException(rows + " rows of " + rowBytes + " bytes do not fit a pitch of " + srcPitch);
        }
        long packed = rowBytes * rows;
        checkRange("dst (pinned)", dst.bytes(), dstOffset, packed);
        checkRange("src (device)", src.bytes(), srcOffset, rows == 0 ? 0 : srcPitch * (rows - 1) + rowBytes);
        if (packed == 0) {
            return;
        }
        jcuda.driver.CUDA_MEMCPY2D copy = new jcuda.driver.CUDA_MEMCPY2D();
        copy.srcMemoryType = jcuda.driver.CUmemorytype.CU_MEMORYTYPE_DEVICE;
        copy.srcDevice = src.pointer(srcOffset);
        copy.srcPitch = srcPitch;
        copy.dstMemoryType = jcuda.driver.CUmemorytype.CU_MEMORYTYPE_HOST;
        copy.dstHost = dst.pointer(dstOffset);
        copy.dstPitch = rowBytes;
        copy.WidthInBytes = rowBytes;
        copy.Height = rows;
        stream.context().makeCurrent();
        int r = JCudaDriver.cuMemcpy2DAsync(copy, stream.handle());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuMemcpy2DAsync of " + rows + " rows of " + rowBytes + " bytes, " + srcPitch + " apart (device offset "
                    + srcOffset + " -> pinned offset " + dstOffset + ")");
        }
    }

    /** Copies {@code bytes} from pinned {@code src + srcOffset} to device {@code dst + dstOffset}. */
    public static void hostToDeviceAsync(DeviceBuffer dst, long dstOffset, PinnedBuffer src, long srcOffset, long bytes,
                                         CudaStream stream) {
        checkRange("dst (device)", dst.bytes(), dstOffset, bytes);
        checkRange("src (pinned)", src.bytes(), srcOffset, bytes);
        if (bytes == 0) {
            return;
        }
        stream.context().makeCurrent();
        int r = JCudaDriver.cuMemcpyHtoDAsync(dst.pointer(dstOffset), src.pointer(srcOffset), bytes, stream.handle());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuMemcpyHtoDAsync of " + bytes + " bytes (pinned offset " + srcOffset + " -> device offset " + dstOffset + ")");
        }
    }

    /** Copies {@code bytes} between device buffers (ranges may be in the same buffer but must not overlap). */
    public static void deviceToDevice(DeviceBuffer dst, long dstOffset, DeviceBuffer src, long srcOffset, long bytes,
                                      CudaStream stream) {
        checkRange("dst (device)", dst.bytes(), dstOffset, bytes);
        checkRange("src (device)", src.bytes(), srcOffset, bytes);
        if (dst == src && dstOffset < srcOffset + bytes && srcOffset < dstOffset + bytes) {
            throw new IllegalArgumentException("device ranges overlap: [" + srcOffset + ", +" + bytes + ") -> [" + dstOffset + ", +" + bytes + ")");
        }
        if (bytes == 0) {
            return;
        }
        stream.context().makeCurrent();
        int r = JCudaDriver.cuMemcpyDtoDAsync(dst.pointer(dstOffset), src.pointer(srcOffset), bytes, stream.handle());
        if (r != CUresult.CUDA_SUCCESS) {
            throw Cuda.failure(r, "cuMemcpyDtoDAsync of " + bytes + " bytes (device offset " + srcOffset + " -> " + dstOffset + ")");
        }
    }

    /** Throws unless {@code [offset, offset + length)} lies inside {@code [0, capacity)}. */
    static void checkRange(String name, long capacity, long offset, long length) {
        if (length < 0) {
            throw new IllegalArgumentException(name + ": length must be >= 0, was " + length);
        }
        if (offset < 0 || offset > capacity - length) {
            throw new IllegalArgumentException(name + ": range [" + offset + ", " + offset + " + " + length
                    + ") is outside the buffer of " + capacity + " bytes");
        }
    }
}
