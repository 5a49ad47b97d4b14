package org.sambridge.qupath;

import groovy.lang.GroovyShell;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import javafx.scene.control.MenuItem;
import org.codehaus.groovy.control.CompilerConfiguration;
import org.codehaus.groovy.control.customizers.ImportCustomizer;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.gui.extensions.QuPathExtension;
import qupath.fx.dialogs.Dialogs;

/**
 * QuPath extension skeleton: Extensions &gt; SAMBridge menu entries that run the
 * same Groovy scripts as java_bridge/qupath/*.groovy (bundled as resources by
 * the Gradle build; the geometry lives in the tested sambridge-client.jar).
 * Untested here: QuPath cannot be installed in this environment.
 */
public class SamBridgeExtension implements QuPathExtension {
    private static final String[][] ENTRIES = {
        {"Segment from selected annotations", "sam_segment_selected.groovy"},
        {"Segment all in region / field of view", "sam_segment_region.groovy"},
    };

    @Override
    public void installExtension(QuPathGUI qupath) {
        var menu = qupath.getMenu("Extensions>SAMBridge", true);
        for (String[] entry : ENTRIES) {
            MenuItem item = new MenuItem(entry[0]);
            item.setOnAction(e -> runScript(entry[1]));
            menu.getItems().add(item);
        }
    }

    /** Runs a bundled script on a background thread with QuPath's script imports. */
    private void runScript(String name) {
        Thread worker = new Thread(() -> {
            try (InputStream in = getClass().getResourceAsStream(name)) {
                String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                ImportCustomizer imports = new ImportCustomizer();
                imports.addStaticStars("qupath.lib.gui.scripting.QPEx");
                imports.addStarImports("qupath.lib.gui.scripting", "qupath.fx.dialogs");
                CompilerConfiguration config = new CompilerConfiguration();
                config.addCompilationCustomizers(imports);
                new GroovyShell(getClass().getClassLoader(), config).evaluate(text, name);
            } catch (IOException | RuntimeException ex) {
                Dialogs.showErrorMessage("SAMBridge", ex.getMessage());
            }
        }, "sambridge-" + name);
        worker.setDaemon(true);
        worker.start();
    }

    @Override
    public String getName() {
        return "SAMBridge";
    }

    @Override
    public String getDescription() {
        return "Segment Anything for microscopy through a SAMBridge server";
    }
}
