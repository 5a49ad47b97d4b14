package org.sambridge.client;

import org.sambridge.v1.Box;
import org.sambridge.v1.Mask;
import org.sambridge.v1.Point;
import org.sambridge.v1.SliceAnnotation;

/** Short factories for prompt messages (points are (x, y), boxes (x0, y0, x1, y1), in image pixels). */
public final class Prompts {
    private Prompts() {
    }

    /**
     * @param x column
     * @param y row
     * @param positive true for foreground, false for background
     * @return the point prompt
     */
    public static Point point(double x, double y, boolean positive) {
        return Point.newBuilder().setX(x).setY(y).setLabel(positive ? 1 : 0).build();
    }

    /**
     * @param x0 left
     * @param y0 top
     * @param x1 right (exclusive-style corner)
     * @param y1 bottom (exclusive-style corner)
     * @return the box prompt
     */
    public static Box box(double x0, double y0, double x1, double y1) {
        return Box.newBuilder().setX0(x0).setY0(y0).setX1(x1).setY1(y1).build();
    }

    /**
     * An annotation of one slice by a mask (for 3D propagation).
     *
     * @param z slice index
     * @param mask the object's mask on that slice
     * @return the annotation
     */
    public static SliceAnnotation slice(int z, Mask mask) {
        return SliceAnnotation.newBuilder().setZ(z).setMask(mask).build();
    }

    /**
     * An annotation of one slice by a box (for 3D propagation).
     *
     * @param z slice index
     * @param box the box
     * @return the annotation
     */
    public static SliceAnnotation slice(int z, Box box) {
        return SliceAnnotation.newBuilder().setZ(z).setBox(box).build();
    }
}
