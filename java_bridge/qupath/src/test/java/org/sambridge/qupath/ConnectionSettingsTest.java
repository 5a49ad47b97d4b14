package org.sambridge.qupath;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import org.junit.Test;

/** Address and token from QuPath preferences, then the environment, then ~/.sambridge/token; nothing hard-coded. */
public class ConnectionSettingsTest {
    @Test
    public void preferencesComeFirstThenTheEnvironment() throws Exception {
        File home = Files.createTempDirectory("qp-home").toFile();
        File token = new File(home, ".sambridge/token");
        assertTrue(token.getParentFile().mkdirs());
        Files.write(token.toPath(), "home-token\n".getBytes(StandardCharsets.UTF_8));
        Map<String, String> prefs = new HashMap<>();
        Map<String, String> env = new HashMap<>();
        env.put("SAMBRIDGE_ADDRESS", "env:1");
        assertEquals("env:1", ConnectionSettings.resolve(prefs, env, home).address());
        assertEquals("home-token", ConnectionSettings.resolve(prefs, env, home).token());
        env.put("SAMBRIDGE_TOKEN", "env-token");
        assertEquals("env-token", ConnectionSettings.resolve(prefs, env, home).token());
        prefs.put(ConnectionSettings.ADDRESS_PREF, "pref:2");
        prefs.put(ConnectionSettings.TOKEN_FILE_PREF, token.getPath());
        ConnectionSettings s = ConnectionSettings.resolve(prefs, env, home);
        assertEquals("pref:2", s.address());
        assertEquals("home-token", s.token());
        prefs.put(ConnectionSettings.TOKEN_PREF, "pref-token");
        assertEquals("pref-token", ConnectionSettings.resolve(prefs, env, home).token());
        assertEquals("SAMBridge server pref:2 (token set)", ConnectionSettings.resolve(prefs, env, home).toString());
    }

    @Test
    public void noAddressOrAnUnreadableTokenFileIsAnError() {
        Map<String, String> none = Collections.emptyMap();
        try {
            ConnectionSettings.resolve(none, none, new File("/nonexistent"));
            fail("no address accepted");
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage().contains("SAMBRIDGE_ADDRESS"));
        }
        Map<String, String> prefs = new HashMap<>();
        prefs.put(ConnectionSettings.ADDRESS_PREF, "a:1");
        prefs.put(ConnectionSettings.TOKEN_FILE_PREF, "/nonexistent/token");
        try {
            ConnectionSettings.resolve(prefs, none, new File("/nonexistent"));
            fail("unreadable token file accepted");
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage().contains("/nonexistent/token"));
        }
        prefs.remove(ConnectionSettings.TOKEN_FILE_PREF);
        assertEquals("", ConnectionSettings.resolve(prefs, none, new File("/nonexistent")).token());
    }
}
