package org.sambridge.client;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.protobuf.ByteString;
import org.junit.Test;
import org.sambridge.v1.Compression;
import org.sambridge.v1.DType;
import org.sambridge.v1.Mask;
import org.sambridge.v1.NDArray;

/** Bit-packing (numpy.packbits order) and label array coding, checked against numpy output. */
public class MaskCodecTest {
    private static boolean[][] sample() {
        boolean[][] m = new boolean[3][5];
        m[0][0] = true;
        m[1][2] = true;
        m[2][4] = true;
        m[2][0] = true;
        return m;
    }

    @Test
    public void packMatchesNumpyPackbits() {
        // np.packbits(m) of the sample == bytes 0x81 0x22
        Mask mask = MaskCodec.pack(sample());
        assertEquals(3, mask.getHeight());
        assertEquals(5, mask.getWidth());
        assertArrayEquals(new byte[] {(byte) 0x81, 0x22}, mask.getBits().toByteArray());
    }

    @Test
    public void roundTrip() {
        boolean[][] m = new boolean[7][9];
        for (int y = 0; y < 7; y++) {
            for (int x = 0; x < 9; x++) {
                m[y][x] = (x * 7 + y * 3) % 5 == 0;
            }
        }
        boolean[][] back = MaskCodec.unpack(MaskCodec.pack(m));
        for (int y = 0; y < 7; y++) {
            assertArrayEquals(m[y], back[y]);
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void wrongByteCountIsRejected() {
        MaskCodec.unpack(Mask.newBuilder().setHeight(3).setWidth(5).setBits(ByteString.copyFrom(new byte[3])).build());
    }

    @Test
    public void decodesPythonZlibLabels() {
        // to_ndarray(np.array([[0,1],[70000,2]], np.uint32), "yx").data (zlib level 1)
        NDArray array = NDArray.newBuilder().setDtype(DType.UINT32).addShape(2).addShape(2).setAxes("yx")
                .setCompression(Compression.ZLIB)
                .setData(ByteString.copyFrom(hex("7801636060606004e20241460626200d0004210086"))).build();
        LabelImage labels = MaskCodec.decodeLabels(array);
        assertArrayEquals(new int[] {0, 1, 70000, 2}, labels.labels());
        assertEquals(70000, labels.maxLabel());
    }

    @Test
    public void labelsRoundTripWithAndWithoutZlib() {
        int[] values = new int[2 * 3 * 4];
        for (int i = 0; i < values.length; i++) {
            values[i] = i % 5;
        }
        LabelImage labels = new LabelImage(values, 2, 3, 4, "zyx");
        for (boolean zlib : new boolean[] {true, false}) {
            NDArray array = MaskCodec.encodeLabels(labels, zlib);
            assertEquals(zlib ? Compression.ZLIB : Compression.NONE, array.getCompression());
            LabelImage back = MaskCodec.decodeLabels(array);
            assertArrayEquals(values, back.labels());
            assertEquals("zyx", back.axes());
            assertEquals(2, back.depth());
        }
    }

    @Test
    public void corruptZlibIsAClearError() {
        NDArray array = NDArray.newBuilder().setDtype(DType.UINT32).addShape(2).addShape(2).setAxes("yx")
                .setCompression(Compression.ZLIB).setData(ByteString.copyFrom(new byte[] {1, 2, 3})).build();
        try {
            MaskCodec.decodeLabels(array);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("zlib"));
            return;
        }
        throw new AssertionError("no error");
    }

    static byte[] hex(String text) {
        byte[] out = new byte[text.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }
}
