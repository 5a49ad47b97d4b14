package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.grpc.Status;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** No server, or a server that never answers: a clear error within the timeout, never a hang. */
public class ConnectionFailureTest {
    @Test
    public void noServerIsUnavailableQuickly() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        long start = System.nanoTime();
        try {
            SamBridgeClient.connect("localhost:" + port, "token", false, 3).close();
            fail("connected to nothing");
        } catch (SamBridgeException e) {
            assertEquals(Status.Code.UNAVAILABLE, e.code());
            assertTrue(e.getMessage(), e.getMessage().contains("is the SAMBridge server running"));
        }
        assertTrue("took too long", System.nanoTime() - start < 3_500_000_000L);
    }

    @Test
    public void silentServerHitsTheDeadline() throws Exception {
        List<Socket> accepted = new ArrayList<>();
        try (ServerSocket silent = new ServerSocket(0)) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept()); // accept, never speak HTTP/2
                    }
                } catch (Exception ignored) {
                    // closed
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            long start = System.nanoTime();
            try {
                SamBridgeClient.connect("127.0.0.1:" + silent.getLocalPort(), null, false, 1.5).close();
                fail("connected to a silent socket");
            } catch (SamBridgeException e) {
                assertTrue(e.code() + "", e.code() == Status.Code.DEADLINE_EXCEEDED
                        || e.code() == Status.Code.UNAVAILABLE);
            }
            assertTrue("took too long", System.nanoTime() - start < 4_000_000_000L);
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }
}
