package org.sambridge.client;

import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import org.sambridge.v1.Compression;
import org.sambridge.v1.DType;
import org.sambridge.v1.Mask;
import org.sambridge.v1.NDArray;

/**
 * Encoding and decoding of the wire's array messages: bit-packed {@link Mask}s
 * (row-major, most significant bit first, as numpy.packbits) and label
 * {@link NDArray}s (little-endian, C order, optionally zlib-compressed).
 */
public final class MaskCodec {
    private MaskCodec() {
    }

    /**
     * Packs a mask indexed {@code [y][x]}.
     *
     * @param mask rows of equal length
     * @return the wire mask
     */
    public static Mask pack(boolean[][] mask) {
        int height = mask.length;
        int width = height == 0 ? 0 : mask[0].length;
        byte[] bits = new byte[(height * width + 7) / 8];
        int i = 0;
        for (boolean[] row : mask) {
            if (row.length != width) {
                throw new IllegalArgumentException("mask rows differ in length");
            }
            for (boolean on : row) {
                if (on) {
                    bits[i >> 3] |= (byte) (0x80 >>> (i & 7));
                }
                i++;
            }
        }
        return Mask.newBuilder().setHeight(height).setWidth(width).setBits(ByteString.copyFrom(bits)).build();
    }

    /**
     * Unpacks a wire mask.
     *
     * @param mask the wire mask
     * @return a {@code [y][x]} array
     * @throws IllegalArgumentException if the byte count does not match the size
     */
    public static boolean[][] unpack(Mask mask) {
        int height = mask.getHeight();
        int width = mask.getWidth();
        byte[] bits = mask.getBits().toByteArray();
        if (height < 0 || width < 0 || bits.length != ((long) height * width + 7) / 8) {
            throw new IllegalArgumentException("mask of " + height + "x" + width + " needs "
                    + (((long) height * width + 7) / 8) + " bytes, got " + bits.length);
        }
        boolean[][] out = new boolean[height][width];
        int i = 0;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++, i++) {
                out[y][x] = (bits[i >> 3] & (0x80 >>> (i & 7))) != 0;
            }
        }
        return out;
    }

    /**
     * Decodes an integer NDArray ("yx", "zyx" or "tyx"; uint8/16/32, int8/16/32/64).
     *
     * @param array the wire array
     * @return the labels
     * @throws IllegalArgumentException on a bad size, dtype or corrupt compression
     */
    public static LabelImage decodeLabels(NDArray array) {
        int rank = array.getShapeCount();
        if (rank != 2 && rank != 3) {
            throw new IllegalArgumentException("label array must be 2D or 3D, got rank " + rank);
        }
        int depth = rank == 3 ? Math.toIntExact(array.getShape(0)) : 1;
        int height = Math.toIntExact(array.getShape(rank - 2));
        int width = Math.toIntExact(array.getShape(rank - 1));
        int n = Math.multiplyExact(Math.multiplyExact(depth, height), width);
        int itemSize = DTypes.itemSize(array.getDtype());
        byte[] raw = rawBytes(array, (long) n * itemSize);
        ByteBuffer buffer = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = readInt(buffer, array.getDtype());
        }
        String axes = array.getAxes().isEmpty() ? (rank == 2 ? "yx" : "zyx") : array.getAxes();
        return new LabelImage(labels, depth, height, width, axes);
    }

    /**
     * Encodes labels as a uint32 NDArray.
     *
     * @param labels the labels
     * @param zlib compress the data with zlib
     * @return the wire array
     */
    public static NDArray encodeLabels(LabelImage labels, boolean zlib) {
        PixelArray array = PixelArray.ofInt32(DType.UINT32, labels.labels(), labels.axes(),
                labels.axes().length() == 2 ? new long[] {labels.height(), labels.width()}
                        : new long[] {labels.depth(), labels.height(), labels.width()});
        return toNDArray(array, zlib);
    }

    /**
     * Wraps a pixel array as an NDArray message.
     *
     * @param array the pixels
     * @param zlib compress the data with zlib
     * @return the wire array
     */
    public static NDArray toNDArray(PixelArray array, boolean zlib) {
        NDArray.Builder builder = NDArray.newBuilder().setDtype(array.dtype()).setAxes(array.axes());
        for (long s : array.shape()) {
            builder.addShape(s);
        }
        if (zlib) {
            builder.setCompression(Compression.ZLIB).setData(ByteString.copyFrom(deflate(array.data())));
        } else {
            builder.setCompression(Compression.NONE).setData(ByteString.copyFrom(array.data()));
        }
        return builder.build();
    }

    private static byte[] rawBytes(NDArray array, long expected) {
        byte[] data = array.getData().toByteArray();
        if (array.getCompression() == Compression.ZLIB) {
            data = inflate(data, expected);
        } else if (array.getCompression() != Compression.NONE) {
            throw new IllegalArgumentException("unknown compression " + array.getCompression());
        }
        if (data.length != expected) {
            throw new IllegalArgumentException("array data has " + data.length + " bytes, expected " + expected);
        }
        return data;
    }

    private static int readInt(ByteBuffer buffer, DType dtype) {
        switch (dtype) {
            case UINT8: return buffer.get() & 0xFF;
            case INT8: return buffer.get();
            case UINT16: return buffer.getShort() & 0xFFFF;
            case INT16: return buffer.getShort();
            case UINT32: case INT32: return buffer.getInt();
            case UINT64: case INT64: return Math.toIntExact(buffer.getLong());
            default: throw new IllegalArgumentException("labels must be integers, got " + dtype);
        }
    }

    private static byte[] deflate(byte[] data) {
        Deflater deflater = new Deflater(1);
        deflater.setInput(data);
        deflater.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, data.length / 4));
        byte[] chunk = new byte[65536];
        while (!deflater.finished()) {
            out.write(chunk, 0, deflater.deflate(chunk));
        }
        deflater.end();
        return out.toByteArray();
    }

    private static byte[] inflate(byte[] data, long expected) {
        if (expected > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("array of " + expected + " bytes is too large");
        }
        Inflater inflater = new Inflater();
        inflater.setInput(data);
        byte[] out = new byte[(int) expected];
        try {
            int n = 0;
            while (n < out.length && !inflater.finished()) {
                int got = inflater.inflate(out, n, out.length - n);
                if (got == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                n += got;
            }
            if (n == out.length && !inflater.finished() && inflater.inflate(new byte[1]) > 0) {
                throw new IllegalArgumentException("zlib data decompresses to more than " + expected + " bytes");
            }
            if (n != out.length) {
                throw new IllegalArgumentException("zlib data does not decompress to " + expected + " bytes");
            }
            return out;
        } catch (DataFormatException e) {
            throw new IllegalArgumentException("corrupt zlib data: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }
}
