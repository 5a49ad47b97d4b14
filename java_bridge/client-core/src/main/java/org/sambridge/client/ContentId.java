package org.sambridge.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.sambridge.v1.DType;

/**
 * The content id of an image, exactly as images.proto defines it:
 * {@code "sha1:" + hex(sha1("<dtype>|<shape joined by ','>|<axes>|" + data))}
 * with little-endian C-order data. Computing it locally lets a client skip
 * re-uploading pixels the server already has.
 */
public final class ContentId {
    private ContentId() {
    }

    /**
     * Computes the content id.
     *
     * @param dtype element type
     * @param shape array shape, C order
     * @param axes axes string, e.g. "yx"
     * @param littleEndianData raw little-endian C-order bytes
     * @return "sha1:" followed by 40 lower-case hex digits
     */
    public static String compute(DType dtype, long[] shape, String axes, byte[] littleEndianData) {
        MessageDigest sha1 = newSha1();
        sha1.update(header(dtype, shape, axes).getBytes(StandardCharsets.UTF_8));
        sha1.update(littleEndianData);
        return "sha1:" + hex(sha1.digest());
    }

    /**
     * The text hashed before the data, e.g. {@code "uint16|700,1100|yx|"}.
     *
     * @param dtype element type
     * @param shape array shape
     * @param axes axes string
     * @return the header text
     */
    static String header(DType dtype, long[] shape, String axes) {
        StringBuilder text = new StringBuilder(DTypes.numpyName(dtype)).append('|');
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                text.append(',');
            }
            text.append(shape[i]);
        }
        return text.append('|').append(axes).append('|').toString();
    }

    private static MessageDigest newSha1() {
        try {
            return MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is not available in this JVM", e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder text = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            text.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return text.toString();
    }
}
