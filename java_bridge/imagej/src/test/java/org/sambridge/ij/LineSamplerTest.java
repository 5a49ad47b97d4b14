package org.sambridge.ij;

import static org.junit.Assert.assertEquals;

import ij.gui.Line;
import ij.gui.PolygonRoi;
import ij.gui.Roi;
import ij.process.FloatPolygon;
import java.awt.geom.Point2D;
import org.junit.Test;

/** Line and polyline selections become points evenly spaced along them (positive, or negative if named "neg"). */
public class LineSamplerTest {
    @Test
    public void samplesByArcLengthWithBothEnds() {
        FloatPolygon l = new FloatPolygon(new float[] {0, 10, 10}, new float[] {0, 0, 10});
        Point2D.Double[] p = LineSampler.sample(l, 5);
        assertEquals(5, p.length);
        assertEquals(0, p[0].x, 1e-9);
        assertEquals(5, p[1].x, 1e-9);
        assertEquals(10, p[2].x, 1e-9);
        assertEquals(0, p[2].y, 1e-9);
        assertEquals(5, p[3].y, 1e-9);
        assertEquals(10, p[4].y, 1e-9);
        assertEquals(1, LineSampler.sample(new FloatPolygon(new float[] {3}, new float[] {4}), 5).length);
    }

    @Test
    public void linesArePromptPoints() {
        PromptCollector line = PromptCollector.collect(new Line(0, 0, 70, 0), false);
        assertEquals(PromptCollector.LINE_POINTS, line.positives().size());
        assertEquals(70, line.positives().get(PromptCollector.LINE_POINTS - 1).getX(), 0.5);
        Roi polyline = new PolygonRoi(new float[] {0, 20, 20}, new float[] {0, 0, 20}, Roi.POLYLINE);
        polyline.setName("neg stroke");
        PromptCollector neg = PromptCollector.collect(polyline, false);
        assertEquals(PromptCollector.LINE_POINTS, neg.negatives().size());
        assertEquals(0, neg.positives().size());
        assertEquals(0, neg.boxes().size());
    }
}
