package org.sambridge.live;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import ij.IJ;
import ij.ImagePlus;
import io.grpc.Status;
import java.net.ServerSocket;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import org.sambridge.client.LabelResult;
import org.sambridge.client.PixelArray;
import org.sambridge.client.Prompts;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.client.SamBridgeException;
import org.sambridge.client.SegmentResult;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.ij.convert.RoiConverter;
import org.sambridge.v1.AutoMethod;
import org.sambridge.v1.AvailableModel;
import org.sambridge.v1.EmbedResult;
import org.sambridge.v1.ImageInfo;
import org.sambridge.v1.ModelInfo;

/**
 * Integration test against a running server. System properties:
 * sambridge.address, sambridge.token, sambridge.image (a 2D TIFF).
 */
public class LiveClientTest {
    private static SamBridgeClient client;
    private static ImagePlus image;
    private static String imageId;

    @BeforeClass
    public static void connect() {
        client = SamBridgeClient.connect(System.getProperty("sambridge.address"),
                System.getProperty("sambridge.token"), false, 30);
        client.setLongCallTimeoutSeconds(900);
        image = IJ.openImage(System.getProperty("sambridge.image"));
        assertTrue("test image not found", image != null);
        imageId = client.upload(ImageJArrays.fromImagePlus(image, "z")).getImageId();
    }

    @AfterClass
    public static void close() {
        if (client != null) {
            client.close();
        }
    }

    @Test
    public void uploadIsSkippedTheSecondTimeAndIdMatches() {
        PixelArray pixels = ImageJArrays.fromImagePlus(image, "z");
        ImageInfo again = client.upload(pixels);
        assertTrue(again.getAlreadyPresent());
        assertEquals(pixels.contentId(), again.getImageId());
        assertEquals(imageId, again.getImageId());
        assertEquals(Arrays.asList((long) image.getHeight(), (long) image.getWidth()), again.getShapeList());
    }

    @Test
    public void embedReportsProgress() {
        AtomicInteger events = new AtomicInteger();
        EmbedResult result = client.embed(imageId, (stage, done, total, message) -> events.incrementAndGet());
        assertEquals(1, result.getNSlices());
        System.out.println("embed: " + result.toString().replace('\n', ' ') + " progress events " + events);
    }

    @Test
    public void segmentWithABox() {
        SegmentResult result = client.segment(imageId, 0, Collections.emptyList(),
                Prompts.box(136, 193, 177, 234), null, true);
        assertEquals(3, result.size());
        boolean[][] mask = result.bestMask();
        assertEquals(image.getHeight(), mask.length);
        assertEquals(image.getWidth(), mask[0].length);
        assertFalse(Float.isNaN(result.bestScore()));
        System.out.println("segment box: score " + result.bestScore() + " area "
                + (RoiConverter.maskToRoi(mask) == null ? 0 : RoiConverter.pixelCount(RoiConverter.maskToRoi(mask))));
    }

    @Test
    public void correctionsThroughAHandleCanBeUndone() {
        SegmentResult first = client.segmentObject(imageId, 0, "java-cell", Collections.emptyList(),
                Prompts.box(136, 193, 177, 234));
        SegmentResult corrected = client.segmentObject(imageId, 0, "java-cell",
                Collections.singletonList(Prompts.point(140, 197, false)), null);
        assertTrue(corrected.window().getX1() > corrected.window().getX0());
        assertTrue(Arrays.deepEquals(first.bestMask(), client.undo(imageId, 0, "java-cell").bestMask()));
        client.resetObject(imageId, 0, "java-cell");
        assertTrue(Arrays.deepEquals(first.bestMask(), client.undo(imageId, 0, "java-cell").bestMask()));
        try {
            client.undo(imageId, 0, "never-used");
            fail("undo of an unknown handle must fail");
        } catch (SamBridgeException e) {
            assertEquals(Status.Code.NOT_FOUND, e.code());
        }
    }

    @Test
    public void segmentObjectsFromPointsAndBoxes() {
        LabelResult result = client.segmentObjects(imageId, 0,
                Arrays.asList(Prompts.point(156, 213, true), Prompts.point(311, 338, true)),
                Collections.singletonList(Prompts.box(136, 193, 177, 234)), Collections.emptyList());
        assertEquals(image.getWidth(), result.labels().width());
        assertEquals(3, result.objects().size());
        assertTrue(result.labels().maxLabel() <= 3);
        System.out.println("segmentObjects: " + RoiConverter.labelsToRois(result.labels()).size() + " ROIs");
    }

    @Test
    public void autoSegmentIfTheModelHasADecoder() {
        List<ModelInfo> models = client.listModels();
        assertFalse(models.isEmpty());
        boolean decoder = models.stream().anyMatch(m -> m.getIsDefault() && m.getHasDecoder());
        if (!decoder) {
            System.out.println("autoSegment: skipped (default model has no AIS decoder)");
            return;
        }
        LabelResult result = client.autoSegment(imageId, AutoMethod.AIS, null);
        assertEquals(image.getHeight(), result.labels().height());
        System.out.println("autoSegment: " + result.objects().size() + " objects");
    }

    @Test
    public void registryModelsAreListedAndUnknownNamesRefused() {
        List<AvailableModel> available = client.listAvailableModels();
        assertTrue(available.stream().anyMatch(m -> m.getName().equals("vit_b_lm") && m.getHasDecoder()
                && m.getModelType().equals("vit_b")));
        try {
            client.pullModel("no_such_model", null);
            fail("an unknown registry name was accepted");
        } catch (SamBridgeException e) {
            assertEquals(Status.Code.NOT_FOUND, e.code());
            assertTrue(e.getMessage(), e.getMessage().contains("vit_b_lm"));
        }
        System.out.println("available models: " + available.size());
    }

    @Test
    public void badTokenIsUnauthenticated() {
        try (SamBridgeClient bad = SamBridgeClient.connect(System.getProperty("sambridge.address"),
                "wrong-token", false, 10)) {
            bad.listModels();
            String token = System.getProperty("sambridge.token", "");
            assertTrue("server accepted a wrong token although it has one", token.isEmpty());
        } catch (SamBridgeException e) {
            assertEquals(Status.Code.UNAUTHENTICATED, e.code());
            assertTrue(e.getMessage(), e.getMessage().contains("token"));
            System.out.println("bad token: " + e.getMessage());
        }
    }

    @Test
    public void noServerIsAClearErrorWithinTheTimeout() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        long start = System.nanoTime();
        try {
            SamBridgeClient.connect("localhost:" + port, "x", false, 5).close();
            fail("no server, yet connected");
        } catch (SamBridgeException e) {
            assertEquals(Status.Code.UNAVAILABLE, e.code());
            System.out.println("no server: " + e.getMessage());
        }
        assertTrue(System.nanoTime() - start < 6_000_000_000L);
    }
}
