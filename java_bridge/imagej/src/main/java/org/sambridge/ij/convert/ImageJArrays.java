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
     * {@code stackAxis + "yx"}.
     *
     * @param imp the image
     * @param stackAxis "z" or "t": what the planes of a stack are
     * @return the array
     * @throws IllegalArgumentException for a hyperstack with both several z slices and several frames
     */
    public static PixelArray fromImagePlus(ImagePlus imp, String stackAxis) {
        if (!"z".equals(stackAxis) && !"t".equals(stackAxis)) {
            throw new IllegalArgumentException("stack axis must be \"z\" or \"t\", got \"" + stackAxis + "\"");
        }
        int nz = imp.getNSlices();
        int nt = imp.getNFrames();
        if (nz > 1 && nt > 1) {
            throw new IllegalArgumentException("image has " + nz + " slices and " + nt
                    + " frames; SAMBridge accepts either a z stack or a time series (use Image > Duplicate)");
        }
        int channel = imp.getNChannels() > 1 ? imp.getC() : 1;
        ImageStack stack = imp.getStack();
        List<ImageProcessor> planes = new ArrayList<>();
        int n = Math.max(nz, nt);
        for (int i = 1; i <= n; i++) {
            int index = nz > 1 ? imp.getStackIndex(channel, i, 1) : imp.getStackIndex(channel, 1, i);
            planes.add(stack.getProcessor(index));
        }
        return fromPlanes(planes, n > 1 ? stackAxis : "");
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
