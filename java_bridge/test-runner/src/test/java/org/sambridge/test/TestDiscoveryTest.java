package org.sambridge.test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.Test;

/** Test classes are found by name and by their {@code @Test} methods, not by a list. */
public class TestDiscoveryTest {
    @Test
    public void onlyTopLevelClassesNamedTestAreCandidates() throws IOException {
        Path root = Files.createTempDirectory("discovery");
        for (String name : new String[] {"a/b/OneTest.class", "a/b/OneTest$1.class", "a/Helper.class",
                "a/Two Test.txt", "TwoTest.class"}) {
            Path file = root.resolve(name);
            Files.createDirectories(file.getParent());
            Files.write(file, new byte[0]);
        }
        assertEquals(Arrays.asList("TwoTest", "a.b.OneTest"),
                Arrays.asList(TestDiscovery.candidateNames(root.toFile()).toArray()));
    }

    @Test
    public void aTestClassNeedsPublicTestMethods() {
        assertTrue(TestDiscovery.isTestClass(TestDiscoveryTest.class));
        assertFalse(TestDiscovery.isTestClass(TestMain.class));
    }

    @Test
    public void findsThisClassWhereItWasCompiled() throws Exception {
        File location = new File(TestDiscoveryTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(TestDiscovery.testClasses(location).contains(TestDiscoveryTest.class));
    }
}
