package io.tierkv.cuda.driver;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;

import java.nio.charset.StandardCharsets;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/**
 * What the driver says about one device. Query with {@link #get(int)} after {@link Cuda#init()}.
 *
 * @param ordinal         the device's index, {@code 0 .. count()-1}
 * @param name            the marketing name, for example {@code NVIDIA H200}
 * @param major           compute capability, major
 * @param minor           compute capability, minor
 * @param multiprocessors streaming multiprocessors
 * @param totalMemory     device memory in bytes
 * @param driverVersion   the driver's CUDA version as {@code 1000 * major + 10 * minor}
 */
public record CudaDevice(int ordinal, String name, int major, int minor, int multiprocessors, long totalMemory,
                         int driverVersion) {

    /** Devices the driver sees. */
    public static int count() {
        Cuda.init();
        int[] n = new int[1];
        Cuda.check(JCudaDriver.cuDeviceGetCount(n), "cuDeviceGetCount");
        return n[0];
    }

    /** The device with this ordinal. */
    public static CudaDevice get(int ordinal) {
        CUdevice device = handle(ordinal);
        byte[] name = new byte[256];
        Cuda.check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName of device " + ordinal);
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        long[] total = new long[1];
        Cuda.check(JCudaDriver.cuDeviceTotalMem(total, device), "cuDeviceTotalMem of device " + ordinal);
        int[] version = new int[1];
        Cuda.check(JCudaDriver.cuDriverGetVersion(version), "cuDriverGetVersion");
        return new CudaDevice(ordinal, new String(name, 0, len, StandardCharsets.US_ASCII),
                attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ordinal),
                attribute(device, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ordinal),
                attribute(device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, ordinal),
                total[0], version[0]);
    }

    /** The driver's handle of device {@code ordinal}, checked against {@link #count()}. */
    static CUdevice handle(int ordinal) {
        int count = count();
        if (ordinal < 0 || ordinal >= count) {
            throw new IllegalArgumentException("device ordinal must be in [0, " + count + "), was " + ordinal);
        }
        CUdevice device = new CUdevice();
        Cuda.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        return device;
    }

    /** Device attribute {@code attribute} ({@code CUdevice_attribute}) of device {@code ordinal}, checked. */
    public static int attribute(int ordinal, int attribute) {
        return attribute(handle(ordinal), attribute, ordinal);
    }

    private static int attribute(CUdevice device, int attribute, int ordinal) {
        int[] value = new int[1];
        Cuda.check(JCudaDriver.cuDeviceGetAttribute(value, attribute, device),
                "cuDeviceGetAttribute(" + attribute + ") of device " + ordinal);
        return value[0];
    }

    /** One line for logs: {@code NVIDIA H200 (sm_90, 132 SMs, 140.4 GiB, driver CUDA 13.0)}. */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "%s (sm_%d%d, %d SMs, %.1f GiB, driver CUDA %d.%d)", name, major, minor,
                multiprocessors, totalMemory / (double) (1L << 30), driverVersion / 1000, driverVersion % 1000 / 10);
    }
}
