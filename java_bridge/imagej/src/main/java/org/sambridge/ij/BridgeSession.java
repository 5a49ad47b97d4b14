package org.sambridge.ij;

import ij.ImagePlus;
import org.sambridge.client.SamBridgeClient;
import org.sambridge.ij.convert.ImageJArrays;
import org.sambridge.v1.ImageInfo;

/**
 * The one SAMBridge connection of this ImageJ instance, shared by all commands
 * (set by Connect, reused until the next Connect or ImageJ quits).
 */
public final class BridgeSession {
    private static SamBridgeClient client;

    private BridgeSession() {
    }

    /**
     * Replaces the current connection (the old one is closed).
     *
     * @param newClient the new client
     */
    public static synchronized void set(SamBridgeClient newClient) {
        DrawOrder.register(); // from now on composite selections remember their drawing order
        if (client != null && client != newClient) {
            client.close();
        }
        client = newClient;
    }

    /**
     * @param address "host:port"
     * @return whether the current connection goes to that address
     */
    public static synchronized boolean isConnectedTo(String address) {
        return client != null && client.address().equals(address);
    }

    /**
     * Closes the connection, if any.
     *
     * @return the address it was connected to, or null if there was none
     */
    public static synchronized String disconnect() {
        if (client == null) {
            return null;
        }
        String address = client.address();
        client.close();
        client = null;
        return address;
    }

    /**
     * @return the connected client
     * @throws IllegalStateException if Connect has not been run
     */
    public static synchronized SamBridgeClient require() {
        if (client == null) {
            throw new IllegalStateException("Not connected: run Plugins > SAMBridge > Connect first.");
        }
        return client;
    }

    /**
     * What the planes of a stack are: "t" if the image has several frames, else "z".
     *
     * @param imp the image
     * @return "z" or "t"
     */
    public static String stackAxis(ImagePlus imp) {
        return imp.getNFrames() > 1 ? "t" : "z";
    }

    /**
     * The 0-based index of the displayed slice or frame (0 for 2D images).
     *
     * @param imp the image
     * @return the index
     */
    public static int currentIndex(ImagePlus imp) {
        return "t".equals(stackAxis(imp)) ? imp.getT() - 1 : imp.getZ() - 1;
    }

    /**
     * Uploads the image unless the server has it already.
     *
     * @param imp the image
     * @return the content id
     */
    public static String upload(ImagePlus imp) {
        ImageInfo info = require().upload(ImageJArrays.fromImagePlus(imp, stackAxis(imp)));
        return info.getImageId();
    }
}
