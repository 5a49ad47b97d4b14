package org.sambridge.ij;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import ij.Macro;
import java.util.Collections;
import org.junit.Test;
import org.sambridge.client.PropagationMethod;
import org.sambridge.v1.Box;
import org.sambridge.v1.EmbeddingKey;
import org.sambridge.v1.Point;
import org.sambridge.v1.ProjectionMode;
import org.sambridge.v1.PropagationOptions;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;

/**
 * The "method" choice of Propagate in 3D, Propagate all objects and Follow object: macro values as
 * GenericDialog reads them, and the options / request each choice sends (no server).
 */
public class PropagationMethodChoiceTest {
    private static final EmbeddingKey KEY = EmbeddingKey.newBuilder().setImageId("sha1:abc").build();

    /** What GenericDialog.getNextChoice returns in a macro: Macro.getValue of the key, else the default. */
    private static String choice(String macroOptions) {
        return Macro.getValue(macroOptions + " ", "method", PropagationMethod.CHOICES[0]);
    }

    @Test
    public void macroValues() {
        assertArrayEquals(new String[] {"default", "prompts", "memory"}, PropagationMethod.CHOICES);
        assertEquals("memory", choice("projection=single_point iou_threshold=0.5 method=memory"));
        assertEquals("prompts", choice("labels=[stack-SAM-labels] projection=box method=prompts iou_threshold=0.5"));
        // an old macro without method= gets the default, which sends no method
        String old = choice("projection=single_point iou_threshold=0.5");
        assertEquals("default", old);
        assertEquals("", PropagationMethod.wire(old));
    }

    @Test
    public void propagateOptionsCarryTheChoice() {
        PropagationOptions memory = Propagate3DCommand.options(ProjectionMode.SINGLE_POINT, 0.5, "memory");
        assertEquals("memory", memory.getMethod());
        assertEquals(ProjectionMode.SINGLE_POINT, memory.getProjection());
        assertEquals(0.5, memory.getIouThreshold(), 0);
        assertEquals("prompts", Propagate3DCommand.options(Projections.of(2), 0.3, "prompts").getMethod());
        PropagationOptions plain = Propagate3DCommand.options(ProjectionMode.BOX, 0.3, "default");
        assertEquals("", plain.getMethod());
        assertEquals(ProjectionMode.BOX, plain.getProjection());
    }

    @Test
    public void followRequestCarriesTheChoice() {
        Point point = Point.newBuilder().setX(10).setY(12).setLabel(1).build();
        Box box = Box.newBuilder().setX0(1).setY0(2).setX1(30).setY1(40).build();
        TrackRequest request = FollowObjectCommand.request(KEY, 2, Collections.singletonList(point),
                Collections.singletonList(box), 0.5, true, "memory");
        assertEquals(TrackMethod.INTERACTIVE, request.getMethod());
        assertEquals("memory", request.getFollowMethod());
        assertEquals(2, request.getStart().getT());
        assertEquals(point, request.getStart().getPoints(0));
        assertEquals(box, request.getStart().getBox());
        assertTrue(request.getBackward());
        assertEquals(0.5, request.getIouThreshold(), 0);
        TrackRequest plain = FollowObjectCommand.request(KEY, 0, Collections.singletonList(point),
                Collections.<Box>emptyList(), 0.5, false, "default");
        assertEquals("", plain.getFollowMethod());
        assertFalse(plain.getStart().hasBox());
        assertFalse(plain.getBackward());
    }
}
