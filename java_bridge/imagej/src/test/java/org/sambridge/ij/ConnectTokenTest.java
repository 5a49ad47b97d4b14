package org.sambridge.ij;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.Test;

/** The token comes from the masked field, else token_file, else $SAMBRIDGE_TOKEN, else ~/.sambridge/token. */
public class ConnectTokenTest {
    @Test
    public void order() throws Exception {
        File dir = Files.createTempDirectory("sambridge-token").toFile();
        File file = new File(dir, "token");
        Files.write(file.toPath(), "from-file\nignored\n".getBytes(StandardCharsets.UTF_8));
        File home = new File(dir, "home-token");
        Files.write(home.toPath(), " from-home \n".getBytes(StandardCharsets.UTF_8));
        assertEquals("typed", ConnectCommand.resolveToken("typed", file.getPath(), "env", home));
        assertEquals("from-file", ConnectCommand.resolveToken("", file.getPath(), "env", home));
        assertEquals("env", ConnectCommand.resolveToken("", "", "env", home));
        assertEquals("from-home", ConnectCommand.resolveToken("", "", null, home));
        assertEquals("", ConnectCommand.resolveToken("", "", " ", new File(dir, "missing")));
        try {
            ConnectCommand.resolveToken("", new File(dir, "missing").getPath(), "env", home);
            fail("a named token file that cannot be read must be an error");
        } catch (IllegalArgumentException e) {
            assertEquals(true, e.getMessage().contains("cannot read the token file"));
        }
    }
}
