package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Collections;
import java.util.List;
import org.junit.Test;
import org.sambridge.v1.EmbeddingKey;
import org.sambridge.v1.FrameAnnotation;
import org.sambridge.v1.Point;
import org.sambridge.v1.ProjectionMode;
import org.sambridge.v1.PropagateObjectsRequest;
import org.sambridge.v1.PropagateRequest;
import org.sambridge.v1.PropagationOptions;
import org.sambridge.v1.SliceAnnotation;
import org.sambridge.v1.TrackMethod;
import org.sambridge.v1.TrackRequest;

/** The method of propagation / interactive tracking: parsing and the built requests (no server). */
public class PropagationMethodTest {
    private static final EmbeddingKey KEY = EmbeddingKey.newBuilder().setImageId("sha1:abc").setModel("sam2").build();
    private static final List<SliceAnnotation> ONE = Collections.singletonList(SliceAnnotation.newBuilder().setZ(2)
            .addPoints(Point.newBuilder().setX(3).setY(4).setLabel(1)).build());

    @Test
    public void wireValues() {
        assertEquals("", PropagationMethod.wire(null));
        assertEquals("", PropagationMethod.wire(""));
        assertEquals("", PropagationMethod.wire("default"));
        assertEquals("", PropagationMethod.wire("auto"));
        assertEquals("memory", PropagationMethod.wire("memory"));
        assertEquals("memory", PropagationMethod.wire(" Memory "));
        assertEquals("prompts", PropagationMethod.wire("PROMPTS"));
        for (String choice : PropagationMethod.CHOICES) {
            PropagationMethod.wire(choice); // every dialog choice is accepted
        }
        try {
            PropagationMethod.wire("video");
            fail("unknown method accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("video"));
        }
    }

    @Test
    public void propagateRequestCarriesTheMethod() {
        PropagationOptions options = PropagationOptions.newBuilder().setProjection(ProjectionMode.BOX)
                .setIouThreshold(0.7).build();
        PropagateRequest request = PropagationMethod.propagateRequest(KEY, ONE, options, "memory");
        assertEquals("memory", request.getOptions().getMethod());
        assertEquals(ProjectionMode.BOX, request.getOptions().getProjection()); // the other options kept
        assertEquals(0.7, request.getOptions().getIouThreshold(), 0);
        assertEquals(KEY, request.getKey());
        assertEquals(ONE, request.getAnnotationsList());
        // no options at all: the method alone
        PropagateRequest bare = PropagationMethod.propagateRequest(KEY, ONE, null, "prompts");
        assertTrue(bare.hasOptions());
        assertEquals("prompts", bare.getOptions().getMethod());
        assertFalse(bare.getOptions().hasIouThreshold());
    }

    @Test
    public void defaultSendsNoMethod() {
        PropagationOptions options = PropagationOptions.newBuilder().setIouThreshold(0.5).build();
        for (String method : new String[] {null, "", "default"}) {
            PropagateRequest request = PropagationMethod.propagateRequest(KEY, ONE, options, method);
            assertEquals("", request.getOptions().getMethod());
            assertEquals(options, request.getOptions());
            assertFalse(PropagationMethod.propagateRequest(KEY, ONE, null, method).hasOptions());
        }
        assertSame(options, PropagationMethod.apply(options, "default"));
        assertNull(PropagationMethod.apply(null, null));
        // a method already in the options stays unless one is chosen
        PropagationOptions memory = options.toBuilder().setMethod("memory").build();
        assertEquals("memory", PropagationMethod.apply(memory, null).getMethod());
        assertEquals("prompts", PropagationMethod.apply(memory, "prompts").getMethod());
    }

    @Test
    public void propagateObjectsRequestCarriesTheMethod() {
        LabelImage labels = new LabelImage(new int[] {0, 1, 1, 0, 2, 2}, 1, 2, 3, "yx");
        PropagateObjectsRequest request = PropagationMethod.propagateObjectsRequest(KEY, 4, labels,
                PropagationOptions.newBuilder().setProjection(ProjectionMode.POINTS).build(), "memory");
        assertEquals("memory", request.getOptions().getMethod());
        assertEquals(ProjectionMode.POINTS, request.getOptions().getProjection());
        assertEquals(4, request.getZ());
        assertEquals(KEY, request.getKey());
        assertEquals(labels.maxLabel(), MaskCodec.decodeLabels(request.getLabels()).maxLabel());
        assertFalse(PropagationMethod.propagateObjectsRequest(KEY, 4, labels, null, "default").hasOptions());
    }

    @Test
    public void followRequestCarriesTheFollowMethod() {
        FrameAnnotation start = FrameAnnotation.newBuilder().setT(1)
                .addPoints(Point.newBuilder().setX(5).setY(6).setLabel(1)).build();
        TrackRequest request = PropagationMethod.followRequest(KEY, start, 0.4, true, "memory");
        assertEquals(TrackMethod.INTERACTIVE, request.getMethod());
        assertEquals("memory", request.getFollowMethod());
        assertEquals(start, request.getStart());
        assertTrue(request.getBackward());
        assertEquals(0.4, request.getIouThreshold(), 0);
        TrackRequest plain = PropagationMethod.followRequest(KEY, start, 0, false, "default");
        assertEquals("", plain.getFollowMethod());
        assertFalse(plain.hasIouThreshold());
        assertFalse(plain.getBackward());
        assertEquals("prompts", PropagationMethod.followRequest(KEY, start, 0.5, false, "prompts").getFollowMethod());
    }
}
