package io.tierkv.model.cuda;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Wraps a {@link StepDevice} (the host mirror, in tests) and records, in call order, what a GPU would make the host wait for
 * and what crosses to the device: a read back ({@link StepDevice#download}) that follows queued work waits for all of it,
 * one that follows another read back finds the device idle; every {@link StepDevice#upload} is recorded by its bytes.
 */
final class RecordingDevice {
    private boolean queued;
    private int waits;
    private final List<Integer> uploads = new ArrayList<>();
    private long waitMillis;
    private final List<Long> uploadAddresses = new ArrayList<>();

    /** {@code device}, every call passed through and recorded. */
    StepDevice wrap(StepDevice device) {
        return (StepDevice) Proxy.newProxyInstance(StepDevice.class.getClassLoader(), new Class<?>[] {StepDevice.class},
                (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "download" -> {
                            if (queued && waitMillis > 0) {
                                Thread.sleep(waitMillis); // a device still busy with the queued work
                            }
                            waits += queued ? 1 : 0;
                            queued = false;
                        }
                        case "upload" -> {
                            uploads.add(((ByteBuffer) args[1]).remaining());
                            uploadAddresses.add((Long) args[0]);
                        }
                        default -> queued |= !method.getDeclaringClass().equals(Object.class);
                    }
                    try {
                        return method.invoke(device, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** Makes every read back that follows queued work take at least {@code millis} more, as a busy device would. */
    RecordingDevice slowWaits(long millis) {
        this.waitMillis = millis;
        return this;
    }

    /** Read backs that waited for queued work since the last call (and resets the count). */
    int takeWaits() {
        int w = waits;
        waits = 0;
        return w;
    }

    /** The bytes of each upload so far, in order. */
    List<Integer> uploads() {
        return uploads;
    }

    /** The device address of each upload so far, in order (as {@link #uploads}). */
    List<Long> uploadAddresses() {
        return uploadAddresses;
    }

    /** Forgets the uploads so far. */
    void clearUploads() {
        uploads.clear();
        uploadAddresses.clear();
    }
}
