package org.sambridge.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A SAMBridge server process started by a client (ImageJ's "Start local server"): runs the
 * command on 127.0.0.1 with a free port and a fresh random token (passed in the environment, not
 * on the command line), forwards its log line by line, waits until it prints
 * {@code listening on HOST:PORT}, and is stopped by {@link #stop} or, at the latest, by a JVM
 * shutdown hook when the application quits (no orphan server). A JVM killed with SIGKILL cannot
 * run hooks; see the README.
 */
public final class LocalServer implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listening on (\\S+):(\\d+)");

    private final Process process;
    private final String address;
    private final String token;
    private final Thread hook;

    private LocalServer(Process process, String address, String token, Thread hook) {
        this.process = process;
        this.address = address;
        this.token = token;
        this.hook = hook;
    }

    /**
     * Starts the server and waits until it listens.
     *
     * @param command the command (see {@link ServerCommand}); "--host 127.0.0.1 --port 0 --exit-with-stdin" is added
     * @param extraArgs further server options (e.g. --checkpoint, --cache-dir)
     * @param log receives every line the server prints (stdout and stderr)
     * @param timeoutSeconds how long to wait for "listening on"
     * @return the running server
     * @throws IOException if it cannot be started, exits, or does not listen in time (the process is stopped)
     */
    public static LocalServer start(List<String> command, List<String> extraArgs, Consumer<String> log,
            double timeoutSeconds) throws IOException {
        List<String> full = new ArrayList<>(command);
        full.add("--host");
        full.add("127.0.0.1");
        full.add("--port");
        full.add("0");
        // Ends with us even when we are killed: our end of its stdin pipe closes then.
        full.add("--exit-with-stdin");
        full.addAll(extraArgs);
        String token = newToken();
        ProcessBuilder builder = new ProcessBuilder(full).redirectErrorStream(true);
        builder.environment().put("SAMBRIDGE_TOKEN", token);
        builder.environment().put("PYTHONUNBUFFERED", "1");
        Process process = builder.start();
        Thread hook = new Thread(() -> destroy(process), "sambridge-local-server-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        String[] found = new String[1];
        CountDownLatch listening = new CountDownLatch(1);
        Thread reader = new Thread(() -> pump(process, log, found, listening), "sambridge-local-server-log");
        reader.setDaemon(true);
        reader.start();
        try {
            boolean ready = listening.await(Math.round(timeoutSeconds * 1000), TimeUnit.MILLISECONDS);
            if (!ready || found[0] == null) {
                // its output ended (or the wait did): it has exited, or exits within moments
                boolean exited = process.waitFor(ready ? 5 : 0, TimeUnit.SECONDS);
                String why = exited ? "exited with code " + process.exitValue()
                        : "did not print 'listening on' within " + timeoutSeconds + " s";
                stop(process, hook);
                throw new IOException("the server " + why + " (" + String.join(" ", full) + "); see its log");
            }
        } catch (InterruptedException e) {
            stop(process, hook);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the server started");
        }
        return new LocalServer(process, found[0], token, hook);
    }

    /** Reads the server's output; the first "listening on" line gives the address. */
    private static void pump(Process process, Consumer<String> log, String[] found, CountDownLatch listening) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                log.accept(line);
                Matcher m = LISTENING.matcher(line);
                if (found[0] == null && m.find()) {
                    found[0] = "127.0.0.1:" + m.group(2);
                    listening.countDown();
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process ended
        } finally {
            listening.countDown();
        }
    }

    /**
     * @param line a line of the server's output
     * @return "host:port" if it is the server's "listening on" line, else null
     */
    public static String listeningAddress(String line) {
        Matcher m = LISTENING.matcher(line);
        return m.find() ? m.group(1) + ":" + m.group(2) : null;
    }

    private static String newToken() {
        byte[] bytes = new byte[16];
        new SecureRandom().nextBytes(bytes);
        StringBuilder hex = new StringBuilder();
        for (byte b : bytes) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    /** @return "127.0.0.1:PORT" */
    public String address() {
        return address;
    }

    /** @return the token the server requires (random per start) */
    public String token() {
        return token;
    }

    /** @return whether the process still runs */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Stops the server (SIGTERM, then after 5 s SIGKILL) and removes the shutdown hook. */
    public void stop() {
        stop(process, hook);
    }

    @Override
    public void close() {
        stop();
    }

    private static void stop(Process process, Thread hook) {
        destroy(process);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs anyway
        }
    }

    private static void destroy(Process process) {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
