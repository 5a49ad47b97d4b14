package org.sambridge.test;

import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.internal.TextListener;

/**
 * Runs JUnit 4 test classes and prints a closing line "N passed, N failed".
 * Without arguments it runs the unit tests; otherwise the named classes.
 */
public final class TestMain {
    private static final String[] UNIT_TESTS = {
        "org.sambridge.client.ContentIdTest",
        "org.sambridge.client.MaskCodecTest",
        "org.sambridge.client.ImageJArraysTest",
        "org.sambridge.client.BufferedImagesTest",
        "org.sambridge.client.ContourTracerTest",
        "org.sambridge.client.RoiConverterTest",
        "org.sambridge.client.GeoJsonTest",
        "org.sambridge.client.ConnectionFailureTest",
        "org.sambridge.client.StreamingCancelTest",
        "org.sambridge.ij.PromptCollectorTest",
        "org.sambridge.ij.ResultPublisherTest",
        "org.sambridge.ij.MaskPickerTest",
        "org.sambridge.ij.ConnectTokenTest",
    };

    private TestMain() {
    }

    /**
     * @param args test class names (default: all unit tests)
     * @throws ClassNotFoundException if a class is missing
     */
    public static void main(String[] args) throws ClassNotFoundException {
        String[] names = args.length == 0 ? UNIT_TESTS : args;
        Class<?>[] classes = new Class<?>[names.length];
        for (int i = 0; i < names.length; i++) {
            classes[i] = Class.forName(names[i]);
        }
        JUnitCore core = new JUnitCore();
        core.addListener(new TextListener(System.out));
        Result result = core.run(classes);
        for (Failure failure : result.getFailures()) {
            System.out.println("FAILED " + failure.getTestHeader() + ": " + failure.getMessage());
        }
        int failed = result.getFailureCount();
        System.out.println((result.getRunCount() - failed) + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
