package org.sambridge.live;

import ij.IJ;
import ij.ImageJ;
import ij.Prefs;
import ij.WindowManager;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * "Start local server" in real ImageJ windows (under Xvfb): Edit &gt; Options &gt; SAMBridge stores
 * the Python environment, the command starts sambridge-server from it, shows its log window and
 * connects (Status answers); Connect without an address reconnects to it; then ImageJ quits, and the caller checks that the server process is
 * gone (tests/test_java_bridge.py). Writes {"ok", "problems", "address", ...} to OUT.json before
 * quitting.
 *
 * <p>Usage: {@code LocalServerGuiTest PYTHON CACHE_DIR OUT.json}
 */
public final class LocalServerGuiTest {
    private LocalServerGuiTest() {
    }

    /**
     * @param args python, cache dir (unique: identifies the server process), output file
     * @throws Exception on unexpected failures
     */
    public static void main(String[] args) throws Exception {
        List<String> problems = new ArrayList<>();
        String address = "";
        Thread.currentThread().setName("Run$_LocalServerGuiTest");
        ImageJ ij = new ImageJ(ImageJ.NO_SHOW);
        ij.exitWhenQuitting(true);
        try {
            IJ.run("SAMBridge...", "python=[" + args[0] + "]");
            if (!args[0].equals(Prefs.get("sambridge.python", ""))) {
                problems.add("Options did not store the python: " + Prefs.get("sambridge.python", ""));
            }
            int before = IJ.getLog() == null ? 0 : IJ.getLog().length();
            IJ.run("Start local server", "arguments=[--cache-dir " + args[1] + "] wait=240");
            String log = IJ.getLog() == null ? "" : IJ.getLog().substring(before);
            Matcher m = Pattern.compile("local server started at (\\S+)").matcher(log);
            if (m.find()) {
                address = m.group(1);
            } else {
                problems.add("no 'local server started' in the Log: " + log);
            }
            if (WindowManager.getFrame("SAMBridge server log") == null) {
                Thread.sleep(1000);
                if (WindowManager.getFrame("SAMBridge server log") == null) {
                    problems.add("no server log window");
                }
            }
            before = IJ.getLog().length();
            IJ.run("Status");
            String status = IJ.getLog().substring(before);
            if (!status.contains("SAMBridge status: server " + address) || !status.contains("served: default")) {
                problems.add("the local server does not serve: " + status);
            }
            IJ.run("Disconnect");
            before = IJ.getLog().length();
            IJ.run("Connect", "address=[] timeout=30 long_timeout=600 model=");
            String connect = IJ.getLog().substring(before);
            if (!connect.contains("connected to " + address)) {
                problems.add("Connect without an address did not use the local server: " + connect);
            }
        } catch (Throwable e) {
            problems.add("exception: " + e);
            e.printStackTrace();
        }
        StringBuilder json = new StringBuilder("{\"ok\":" + problems.isEmpty() + ",\"address\":\"" + address
                + "\",\"problems\":[");
        for (int i = 0; i < problems.size(); i++) {
            json.append(i > 0 ? "," : "").append('"').append(problems.get(i).replace("\\", "\\\\")
                    .replace("\"", "'").replace("\n", " ")).append('"');
        }
        Files.write(new File(args[2]).toPath(), json.append("]}").toString().getBytes(StandardCharsets.UTF_8));
        System.out.println(json);
        IJ.run("Quit"); // ImageJ exits; its shutdown hook stops the server
        Thread.sleep(30000);
        System.out.println("ImageJ did not exit after Quit");
        System.exit(3);
    }
}
