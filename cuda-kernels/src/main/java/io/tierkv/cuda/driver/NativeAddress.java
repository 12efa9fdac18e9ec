package io.tierkv.cuda.driver;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * JCuda keeps a pointer's address in a protected field; these subclasses read it, so that buffers can
 * hand out plain {@code long} addresses (for kernel arguments, libtorch's {@code from_blob}, logs).
 */
final class NativeAddress {
    private NativeAddress() {
    }

    /** A device pointer that knows its address. */
    static final class Device extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    /** A host pointer that knows its address. */
    static final class Host extends Pointer {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }
}
