package org.sambridge.ij;

import static org.junit.Assert.assertEquals;

import ij.gui.PointRoi;
import ij.gui.Roi;
import ij.gui.ShapeRoi;
import org.junit.Test;

/** Selections become prompts: points (positive/negative), rectangles as boxes, composites split. */
public class PromptCollectorTest {
    @Test
    public void pointsArePositiveUnlessNamedNeg() {
        PointRoi points = new PointRoi(new int[] {3, 7}, new int[] {4, 9}, 2);
        PromptCollector prompts = PromptCollector.collect(points, false);
        assertEquals(2, prompts.positives().size());
        assertEquals(3.0, prompts.positives().get(0).getX(), 0);
        assertEquals(4.0, prompts.positives().get(0).getY(), 0);
        assertEquals(1, prompts.positives().get(0).getLabel());
        points.setName("neg background");
        assertEquals(2, PromptCollector.collect(points, false).negatives().size());
        assertEquals(2, PromptCollector.collect(new PointRoi(1, 1), true).negatives().size() + 1);
    }

    @Test
    public void rectangleIsABox() {
        PromptCollector prompts = PromptCollector.collect(new Roi(10, 20, 30, 40), false);
        assertEquals(1, prompts.boxes().size());
        assertEquals(10, prompts.boxes().get(0).getX0(), 0);
        assertEquals(40, prompts.boxes().get(0).getX1(), 0);
        assertEquals(60, prompts.boxes().get(0).getY1(), 0);
    }

    @Test
    public void compositeOfTwoRectanglesIsTwoBoxes() {
        ShapeRoi a = new ShapeRoi(new Roi(0, 0, 10, 10));
        ShapeRoi b = new ShapeRoi(new Roi(50, 50, 5, 5));
        PromptCollector prompts = PromptCollector.collect(a.or(b), false);
        assertEquals(2, prompts.boxes().size());
    }
}
