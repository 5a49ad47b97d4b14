package org.sambridge.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The local server launcher against stand-in scripts: waits for "listening on", forwards the log,
 * passes a random token in the environment only, stops the process, reports early exits; and how
 * the server command is found (configured path, $SAMBRIDGE_PYTHON, PATH, usual environments).
 */
public class LocalServerTest {
    private static File script(File dir, String name, String body) throws IOException {
        File file = new File(dir, name);
        Files.write(file.toPath(), ("#!/bin/sh\n" + body + "\n").getBytes(StandardCharsets.UTF_8));
        assertTrue(file.setExecutable(true));
        return file;
    }

    private static File tempDir() throws IOException {
        File dir = Files.createTempDirectory("sambridge-local").toFile();
        dir.deleteOnExit();
        return dir;
    }

    @Test
    public void waitsUntilListeningAndStops() throws Exception {
        File dir = tempDir();
        File fake = script(dir, "sambridge-server", "echo starting \"$@\"\necho token-length ${#SAMBRIDGE_TOKEN}\n"
                + "echo 'sambridge-server listening on 127.0.0.1:45678 (device cpu, models: default)'\nexec sleep 60");
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        LocalServer server = LocalServer.start(Arrays.asList(fake.getPath()), Arrays.asList("--cache-dir", "/tmp/x"),
                log::add, 20);
        try {
            assertEquals("127.0.0.1:45678", server.address());
            assertEquals(32, server.token().length());
            assertTrue(server.isAlive());
            assertEquals("starting --host 127.0.0.1 --port 0 --exit-with-stdin --cache-dir /tmp/x", log.get(0));
            assertEquals("token-length 32", log.get(1));
            assertFalse("the token is not on the command line", log.get(0).contains(server.token()));
        } finally {
            server.stop();
        }
        assertFalse(server.isAlive());
    }

    @Test
    public void reportsAServerThatExitsOrNeverListens() throws Exception {
        File dir = tempDir();
        File dies = script(dir, "dies", "echo 'ModuleNotFoundError: sambridge_server'\nexit 3");
        try {
            LocalServer.start(Arrays.asList(dies.getPath()), Collections.<String>emptyList(), line -> { }, 20);
            fail("started");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("exited with code 3"));
        }
        File silent = script(dir, "silent", "exec sleep 60");
        long start = System.nanoTime();
        try {
            LocalServer.start(Arrays.asList(silent.getPath()), Collections.<String>emptyList(), line -> { }, 1);
            fail("started");
        } catch (IOException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("did not print 'listening on'"));
        }
        assertTrue((System.nanoTime() - start) / 1e9 < 10);
    }

    @Test
    public void parsesTheListeningLine() {
        assertEquals("0.0.0.0:50051", LocalServer.listeningAddress(
                "sambridge-server listening on 0.0.0.0:50051 (device cpu, models: default)"));
        assertNull(LocalServer.listeningAddress("loading model default"));
    }

    @Test
    public void findsTheServerCommand() throws Exception {
        File home = tempDir();
        File env = new File(home, ".venv/bin");
        assertTrue(env.mkdirs());
        File python = script(env, "python", "exit 0");
        Map<String, String> vars = new HashMap<>();
        vars.put("PATH", "/nonexistent");
        // a python alone in ~/.venv is not taken without sambridge-server
        assertNull(ServerCommand.find("", vars, home));
        File server = script(env, "sambridge-server", "exit 0");
        assertEquals(Arrays.asList(server.getPath()), ServerCommand.find("", vars, home));
        // configured: a python runs the module, a folder prefers its script
        assertEquals(Arrays.asList(python.getPath(), "-m", "sambridge_server"),
                ServerCommand.find(python.getPath(), vars, home));
        assertEquals(Arrays.asList(server.getPath()), ServerCommand.find(new File(home, ".venv").getPath(), vars,
                new File("/nonexistent")));
        vars.put("SAMBRIDGE_PYTHON", python.getPath());
        assertEquals("-m", ServerCommand.find("", vars, home).get(1));
        vars.remove("SAMBRIDGE_PYTHON");
        vars.put("PATH", env.getPath());
        assertEquals(Arrays.asList(server.getPath()), ServerCommand.find("", vars, new File("/nonexistent")));
        try {
            ServerCommand.find("/nonexistent/python", vars, home);
            fail("accepted a missing python");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("/nonexistent/python"));
        }
    }
}
