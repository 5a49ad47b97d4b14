package org.sambridge.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.sambridge.v1.DType;

/**
 * A dense image array ready to travel: dtype, C-order shape, axes string and
 * raw little-endian bytes. Create one with the {@code of...} factories; the
 * ImageJ module ({@code org.sambridge.ij.convert.ImageJArrays}) and the QuPath
 * module ({@code org.sambridge.qupath.BufferedImages}) convert their images.
 */
public final class PixelArray {
    private final DType dtype;
    private final long[] shape;
    private final String axes;
    private final byte[] data;
    private String contentId;

    /**
     * Wraps raw bytes (not copied).
     *
     * @param dtype element type
     * @param shape C-order shape
     * @param axes one letter per dimension, e.g. "yx", "zyx", "tyx"
     * @param littleEndianData raw little-endian bytes, length = product(shape) * item size
     */
    public PixelArray(DType dtype, long[] shape, String axes, byte[] littleEndianData) {
        if (axes.length() != shape.length) {
            throw new IllegalArgumentException("axes '" + axes + "' do not match a shape of rank " + shape.length);
        }
        long expected = DTypes.itemSize(dtype);
        for (long s : shape) {
            expected *= s;
        }
        if (expected != littleEndianData.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + DTypes.numpyName(dtype)
                    + " needs " + expected + " bytes, got " + littleEndianData.length);
        }
        this.dtype = dtype;
        this.shape = shape.clone();
        this.axes = axes;
        this.data = littleEndianData;
    }

    /**
     * An unsigned 8-bit array.
     *
     * @param pixels C-order values
     * @param axes axes string
     * @param shape shape
     * @return the array
     */
    public static PixelArray ofUInt8(byte[] pixels, String axes, long... shape) {
        return new PixelArray(DType.UINT8, shape, axes, pixels);
    }

    /**
     * An unsigned 16-bit array.
     *
     * @param pixels C-order values (Java shorts holding unsigned values)
     * @param axes axes string
     * @param shape shape
     * @return the array
     */
    public static PixelArray ofUInt16(short[] pixels, String axes, long... shape) {
        ByteBuffer buffer = ByteBuffer.allocate(pixels.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asShortBuffer().put(pixels);
        return new PixelArray(DType.UINT16, shape, axes, buffer.array());
    }

    /**
     * A 32-bit float array.
     *
     * @param pixels C-order values
     * @param axes axes string
     * @param shape shape
     * @return the array
     */
    public static PixelArray ofFloat32(float[] pixels, String axes, long... shape) {
        ByteBuffer buffer = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(pixels);
        return new PixelArray(DType.FLOAT32, shape, axes, buffer.array());
    }

    /**
     * A 32-bit integer array of the given dtype (UINT32 for label images, INT32 otherwise).
     *
     * @param dtype UINT32 or INT32
     * @param values C-order values
     * @param axes axes string
     * @param shape shape
     * @return the array
     */
    public static PixelArray ofInt32(DType dtype, int[] values, String axes, long... shape) {
        if (dtype != DType.UINT32 && dtype != DType.INT32) {
            throw new IllegalArgumentException("ofInt32 needs UINT32 or INT32, got " + dtype);
        }
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asIntBuffer().put(values);
        return new PixelArray(dtype, shape, axes, buffer.array());
    }

    /** @return the element type */
    public DType dtype() {
        return dtype;
    }

    /** @return a copy of the shape */
    public long[] shape() {
        return shape.clone();
    }

    /** @return the axes string */
    public String axes() {
        return axes;
    }

    /** @return the raw little-endian bytes (not copied; do not modify) */
    public byte[] data() {
        return data;
    }

    /** @return the content id (computed once, then cached) */
    public synchronized String contentId() {
        if (contentId == null) {
            contentId = ContentId.compute(dtype, shape, axes, data);
        }
        return contentId;
    }
}
