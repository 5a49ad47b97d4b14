package org.sambridge.client;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Traces the outlines of a binary mask along pixel edges into polygons with
 * holes, keeping every part. Diagonally touching pixels belong to separate
 * parts (4-connected foreground); rings that touch themselves at a corner are
 * split there, so every ring is simple and the result is valid for JTS/QuPath.
 */
public final class ContourTracer {
    /** Tells whether a pixel belongs to the mask. */
    @FunctionalInterface
    public interface PixelPredicate {
        /**
         * @param x column
         * @param y row
         * @return true for foreground
         */
        boolean isSet(int x, int y);
    }

    // Directions E, S, W, N (y points down); the foreground is on the right of every edge.
    private static final int[] DX = {1, 0, -1, 0};
    private static final int[] DY = {0, 1, 0, -1};

    private ContourTracer() {
    }

    /**
     * Traces a {@code [y][x]} mask.
     *
     * @param mask the mask
     * @return one polygon per 4-connected part, holes attached
     */
    public static List<MaskPolygon> trace(boolean[][] mask) {
        int height = mask.length;
        int width = height == 0 ? 0 : mask[0].length;
        return trace(width, height, (x, y) -> mask[y][x]);
    }

    /**
     * Traces a mask given by a predicate over {@code [0,width) x [0,height)}.
     *
     * @param width columns
     * @param height rows
     * @param mask the predicate
     * @return one polygon per 4-connected part, holes attached
     */
    public static List<MaskPolygon> trace(int width, int height, PixelPredicate mask) {
        int stride = width + 1;
        byte[] edges = collectEdges(width, height, mask, stride);
        byte[] out = edges.clone();
        List<int[]> shells = new ArrayList<>();
        List<int[]> holes = new ArrayList<>();
        for (int v = 0; v < out.length; v++) {
            for (int d = 0; d < 4; d++) {
                if ((out[v] & (1 << d)) != 0) {
                    for (int[] ring : splitAtRepeatedVertices(walk(edges, out, v, d, stride), stride)) {
                        (MaskPolygon.signedArea2(ring) > 0 ? shells : holes).add(ring);
                    }
                }
            }
        }
        return assemble(shells, holes);
    }

    private static byte[] collectEdges(int width, int height, PixelPredicate mask, int stride) {
        byte[] out = new byte[stride * (height + 1)];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (!mask.isSet(x, y)) {
                    continue;
                }
                if (y == 0 || !mask.isSet(x, y - 1)) {
                    out[y * stride + x] |= 1;           // top edge, going E
                }
                if (x == width - 1 || !mask.isSet(x + 1, y)) {
                    out[y * stride + x + 1] |= 2;       // right edge, going S
                }
                if (y == height - 1 || !mask.isSet(x, y + 1)) {
                    out[(y + 1) * stride + x + 1] |= 4; // bottom edge, going W
                }
                if (x == 0 || !mask.isSet(x - 1, y)) {
                    out[(y + 1) * stride + x] |= 8;     // left edge, going N
                }
            }
        }
        return out;
    }

    /**
     * Follows edges from (v, d) until the ring closes, consuming them from
     * {@code out}; the turn at each vertex is decided on the unconsumed {@code edges}.
     */
    private static List<Integer> walk(byte[] edges, byte[] out, int v, int d, int stride) {
        List<Integer> vertices = new ArrayList<>();
        int vertex = v;
        int dir = d;
        while (true) {
            vertices.add(vertex);
            out[vertex] &= (byte) ~(1 << dir);
            vertex += DX[dir] + DY[dir] * stride;
            int next = nextDirection(edges[vertex], dir);
            if (next < 0 || (out[vertex] & (1 << next)) == 0) {
                return vertices; // back at the start: its edge was consumed
            }
            dir = next;
        }
    }

    /** At a saddle (two exits) turn right, i.e. stay with the same pixel. */
    private static int nextDirection(byte exits, int incoming) {
        int right = (incoming + 1) & 3;
        if ((exits & (1 << right)) != 0) {
            return right;
        }
        for (int d : new int[] {incoming, (incoming + 3) & 3}) {
            if ((exits & (1 << d)) != 0) {
                return d;
            }
        }
        return -1;
    }

    private static List<int[]> splitAtRepeatedVertices(List<Integer> vertices, int stride) {
        List<List<Integer>> rings = new ArrayList<>();
        List<Integer> stack = new ArrayList<>();
        Map<Integer, Integer> position = new HashMap<>();
        for (int vertex : vertices) {
            Integer at = position.get(vertex);
            if (at != null) {
                List<Integer> loop = new ArrayList<>(stack.subList(at, stack.size()));
                for (int k = stack.size() - 1; k > at; k--) {
                    position.remove(stack.remove(k));
                }
                rings.add(loop);
            } else {
                position.put(vertex, stack.size());
                stack.add(vertex);
            }
        }
        rings.add(stack);
        List<int[]> result = new ArrayList<>();
        for (List<Integer> ring : rings) {
            if (ring.size() >= 4) {
                result.add(toCoordinates(ring, stride));
            }
        }
        return result;
    }

    private static int[] toCoordinates(List<Integer> ring, int stride) {
        List<Integer> kept = new ArrayList<>();
        int n = ring.size();
        for (int i = 0; i < n; i++) {
            int prev = ring.get((i + n - 1) % n);
            int cur = ring.get(i);
            int next = ring.get((i + 1) % n);
            if (cur - prev != next - cur) { // drop vertices in the middle of a straight run
                kept.add(cur);
            }
        }
        int[] coords = new int[kept.size() * 2];
        for (int i = 0; i < kept.size(); i++) {
            coords[2 * i] = kept.get(i) % stride;
            coords[2 * i + 1] = kept.get(i) / stride;
        }
        return coords;
    }

    private static List<MaskPolygon> assemble(List<int[]> shells, List<int[]> holes) {
        List<MaskPolygon> polygons = new ArrayList<>();
        for (int[] shell : shells) {
            polygons.add(new MaskPolygon(shell));
        }
        for (int[] hole : holes) {
            double[] probe = foregroundPixelCenter(hole);
            MaskPolygon owner = null;
            long ownerArea = Long.MAX_VALUE;
            for (MaskPolygon polygon : polygons) {
                long area = MaskPolygon.signedArea2(polygon.exterior());
                if (area < ownerArea && MaskPolygon.contains(polygon.exterior(), probe[0], probe[1])) {
                    owner = polygon;
                    ownerArea = area;
                }
            }
            if (owner != null) {
                owner.addHole(hole);
            }
        }
        return polygons;
    }

    /** Center of the foreground pixel to the right of the ring's first edge. */
    private static double[] foregroundPixelCenter(int[] ring) {
        int x0 = ring[0];
        int y0 = ring[1];
        int dx = Integer.signum(ring[2] - x0);
        int dy = Integer.signum(ring[3] - y0);
        // E -> pixel (x, y); S -> (x-1, y); W -> (x-1, y-1); N -> (x, y-1)
        int px = dx > 0 || dy < 0 ? x0 : x0 - 1;
        int py = dx > 0 || dy > 0 ? y0 : y0 - 1;
        return new double[] {px + 0.5, py + 0.5};
    }
}
