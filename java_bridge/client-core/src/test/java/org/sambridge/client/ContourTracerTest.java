package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import org.junit.Test;

/** Outlines keep holes and parts; corner-touching cases give simple rings. */
public class ContourTracerTest {
    @Test
    public void twoPartsOneHole() {
        List<MaskPolygon> parts = ContourTracer.trace(Fixtures.twoPartsWithHole());
        assertEquals(2, parts.size());
        MaskPolygon holed = parts.get(0).holes().isEmpty() ? parts.get(1) : parts.get(0);
        MaskPolygon small = holed == parts.get(0) ? parts.get(1) : parts.get(0);
        assertEquals(1, holed.holes().size());
        assertEquals(Fixtures.HOLED_AREA, holed.area());
        assertEquals(Fixtures.SMALL_AREA, small.area());
        assertEquals(4, holed.exterior().length / 2); // collinear vertices removed: a square
        assertTrue(MaskPolygon.signedArea2(holed.holes().get(0)) < 0);
    }

    @Test
    public void diagonalPixelsAreSeparateParts() {
        boolean[][] m = {{true, false}, {false, true}};
        List<MaskPolygon> parts = ContourTracer.trace(m);
        assertEquals(2, parts.size());
        assertEquals(1, parts.get(0).area());
        assertEquals(1, parts.get(1).area());
    }

    @Test
    public void holeTouchingOutsideAtACornerIsSplitIntoShellAndHole() {
        // 3x3 ring without its bottom-right pixel: the hole meets the outside at vertex (2, 2)
        boolean[][] m = {{true, true, true}, {true, false, true}, {true, true, false}};
        List<MaskPolygon> parts = ContourTracer.trace(m);
        assertEquals(1, parts.size());
        assertEquals(1, parts.get(0).holes().size());
        assertEquals(7, parts.get(0).area());
    }

    @Test
    public void islandInsideHoleIsItsOwnPart() {
        boolean[][] m = new boolean[7][7];
        for (int y = 0; y < 7; y++) {
            for (int x = 0; x < 7; x++) {
                boolean border = x == 0 || y == 0 || x == 6 || y == 6;
                m[y][x] = border || (x == 3 && y == 3);
            }
        }
        List<MaskPolygon> parts = ContourTracer.trace(m);
        assertEquals(2, parts.size());
        long total = parts.get(0).area() + parts.get(1).area();
        assertEquals(24 + 1, total);
    }

    @Test
    public void emptyMaskHasNoParts() {
        assertTrue(ContourTracer.trace(new boolean[4][4]).isEmpty());
    }
}
