package org.sambridge.client;

/**
 * Test masks: a square with a square hole and a separate small rectangle (shared with the
 * ImageJ module's tests, which compile against client-core's test classes).
 */
public final class Fixtures {
    public static final int WIDTH = 20;
    public static final int HEIGHT = 12;
    /** Area of the holed square: 8x8 minus 4x4. */
    public static final int HOLED_AREA = 48;
    /** Area of the small part: 3x2. */
    public static final int SMALL_AREA = 6;

    private Fixtures() {
    }

    /** @return x 1..8, y 1..8 without x 3..6, y 3..6; plus x 12..14, y 2..3 */
    public static boolean[][] twoPartsWithHole() {
        boolean[][] m = new boolean[HEIGHT][WIDTH];
        for (int y = 1; y <= 8; y++) {
            for (int x = 1; x <= 8; x++) {
                m[y][x] = !(x >= 3 && x <= 6 && y >= 3 && y <= 6);
            }
        }
        for (int y = 2; y <= 3; y++) {
            for (int x = 12; x <= 14; x++) {
                m[y][x] = true;
            }
        }
        return m;
    }

    /** @return label 1 = {@link #twoPartsWithHole()}, label 2 = x 16..18, y 8..10 (3x3) */
    public static LabelImage labels() {
        boolean[][] m = twoPartsWithHole();
        int[] values = new int[WIDTH * HEIGHT];
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                values[y * WIDTH + x] = m[y][x] ? 1 : (x >= 16 && x <= 18 && y >= 8 && y <= 10) ? 2 : 0;
            }
        }
        return new LabelImage(values, 1, HEIGHT, WIDTH, "yx");
    }
}
