package org.sambridge.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One connected part of a binary mask as a polygon on the pixel-corner grid:
 * an exterior ring and zero or more hole rings. Rings are stored as
 * {@code [x0, y0, x1, y1, ...]} without repeating the first vertex; exteriors
 * have positive signed area, holes negative (shoelace formula with y down).
 */
public final class MaskPolygon {
    private final int[] exterior;
    private final List<int[]> holes = new ArrayList<>();

    /**
     * @param exterior the exterior ring
     */
    public MaskPolygon(int[] exterior) {
        this.exterior = exterior;
    }

    /** @return the exterior ring (not copied) */
    public int[] exterior() {
        return exterior;
    }

    /** @return the hole rings (unmodifiable) */
    public List<int[]> holes() {
        return Collections.unmodifiableList(holes);
    }

    void addHole(int[] hole) {
        holes.add(hole);
    }

    /** @return the area in pixels: exterior minus holes */
    public long area() {
        long area = signedArea2(exterior);
        for (int[] hole : holes) {
            area += signedArea2(hole);
        }
        return area / 2;
    }

    /**
     * Twice the signed area of a ring (shoelace formula).
     *
     * @param ring {@code [x0, y0, x1, y1, ...]}
     * @return twice the signed area
     */
    static long signedArea2(int[] ring) {
        long sum = 0;
        int n = ring.length / 2;
        for (int i = 0; i < n; i++) {
            int j = (i + 1) % n;
            sum += (long) ring[2 * i] * ring[2 * j + 1] - (long) ring[2 * j] * ring[2 * i + 1];
        }
        return sum;
    }

    /**
     * Even-odd test of a point against a ring.
     *
     * @param ring the ring
     * @param x point x (use half-integers to never hit a vertex)
     * @param y point y
     * @return true if inside
     */
    static boolean contains(int[] ring, double x, double y) {
        boolean inside = false;
        int n = ring.length / 2;
        for (int i = 0, j = n - 1; i < n; j = i++) {
            double xi = ring[2 * i];
            double yi = ring[2 * i + 1];
            double xj = ring[2 * j];
            double yj = ring[2 * j + 1];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) {
                inside = !inside;
            }
        }
        return inside;
    }
}
