package org.sambridge.ij.convert;

import ij.ImagePlus;
import ij.ImageStack;
import ij.process.ColorProcessor;
import ij.process.ImageProcessor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.sambridge.client.DTypes;
import org.sambridge.client.PixelArray;
import org.sambridge.v1.DType;

/**
 * Converts ImageJ images into {@link PixelArray}s: 8-bit to uint8, 16-bit to
 * uint16, 32-bit to float32 and RGB to uint8 with a trailing "c" axis. A stack
 * becomes "zyx" or "tyx"; of a multi-channel hyperstack the current channel is used.
 */
public final class ImageJArrays {
    private ImageJArrays() {
    }

    /**
     * Converts one 2D plane.
     *
     * @param ip the plane
     * @return a "yx" (or "yxc" for RGB) array
     */
    public static PixelArray fromProcessor(ImageProcessor ip) {
        List<ImageProcessor> planes = new ArrayList<>();
        planes.add(ip);
        return fromPlanes(planes, "");
    }

    /**
     * Converts a whole image. A single plane gives "yx"; several planes give
     * {@code stackAxis + "yx"}: the planes along that axis at the displayed channel and, for a
     * hyperstack with both several slices and several frames, at the displayed position of the
     * other axis (a time series of the displayed slice for "t", a z stack of the displayed frame
     * for "z"). A stack with planes along one axis only gives those planes whatever
     * {@code stackAxis} says (a plain stack can be taken as time).
     *
     * @param imp the image
     * @param stackAxis "z" or "t": what the planes of a stack are
     * @return the array
     */
    public static PixelArray fromImagePlus(ImagePlus imp, String stackAxis) {
        ImageStack stack = imp.getStack();
        List<ImageProcessor> planes = new ArrayList<>();
        for (int index : planeIndices(imp, stackAxis, imp.getNChannels() > 1 ? imp.getC() : 1, imp.getZ(), imp.getT())) {
            planes.add(stack.getProcessor(index));
        }
        return fromPlanes(planes, planes.size() > 1 ? stackAxis : "");
    }

    /**
     * The 1-based stack indices of the planes {@link #fromImagePlus} takes.
     *
     * @param imp the image
     * @param stackAxis "z" or "t"
     * @param channel the 1-based channel
     * @param z the 1-based slice used when the planes run along t
     * @param t the 1-based frame used when the planes run along z
     * @return the indices, in plane order
     */
    public static int[] planeIndices(ImagePlus imp, String stackAxis, int channel, int z, int t) {
        if (!"z".equals(stackAxis) && !"t".equals(stackAxis)) {
            throw new IllegalArgumentException("stack axis must be \"z\" or \"t\", got \"" + stackAxis + "\"");
        }
        int nz = imp.getNSlices();
        int nt = imp.getNFrames();
        boolean overT = "t".equals(stackAxis) ? nt > 1 : nz <= 1 && nt > 1;
        int n = overT ? nt : nz;
        int[] indices = new int[n];
        for (int i = 1; i <= n; i++) {
            indices[i - 1] = overT ? imp.getStackIndex(channel, z, i) : imp.getStackIndex(channel, i, t);
        }
        return indices;
    }

    /**
     * Converts a list of same-sized planes.
     *
     * @param planes the planes (all of one type)
     * @param stackAxis "" for a single plane, else "z" or "t"
     * @return the array
     */
    static PixelArray fromPlanes(List<ImageProcessor> planes, String stackAxis) {
        ImageProcessor first = planes.get(0);
        int width = first.getWidth();
        int height = first.getHeight();
        int bitDepth = first.getBitDepth();
        boolean rgb = first instanceof ColorProcessor;
        int channels = rgb ? 3 : 1;
        DType dtype = rgb || bitDepth == 8 ? DType.UINT8 : bitDepth == 16 ? DType.UINT16 : DType.FLOAT32;
        int plane = width * height;
        ByteBuffer buffer = ByteBuffer.allocate(planes.size() * plane * channels * DTypes.itemSize(dtype))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (ImageProcessor ip : planes) {
            if (ip.getWidth() != width || ip.getHeight() != height || ip.getBitDepth() != bitDepth) {
                throw new IllegalArgumentException("all planes must have the same size and type");
            }
            writePlane(ip, rgb, buffer);
        }
        List<Long> shape = new ArrayList<>();
        if (!stackAxis.isEmpty()) {
            shape.add((long) planes.size());
        }
        shape.add((long) height);
        shape.add((long) width);
        if (rgb) {
            shape.add(3L);
        }
        long[] dims = shape.stream().mapToLong(Long::longValue).toArray();
        return new PixelArray(dtype, dims, stackAxis + "yx" + (rgb ? "c" : ""), buffer.array());
    }

    private static void writePlane(ImageProcessor ip, boolean rgb, ByteBuffer buffer) {
        Object pixels = ip.getPixels();
        if (rgb) {
            for (int argb : (int[]) pixels) {
                buffer.put((byte) (argb >> 16)).put((byte) (argb >> 8)).put((byte) argb);
            }
        } else if (pixels instanceof byte[]) {
            buffer.put((byte[]) pixels);
        } else if (pixels instanceof short[]) {
            for (short s : (short[]) pixels) {
                buffer.putShort(s);
            }
        } else {
            for (float f : (float[]) pixels) {
                buffer.putFloat(f);
            }
        }
    }
}
