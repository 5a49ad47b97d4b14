package org.sambridge.ij;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.Test;

/** Connect uses served models, pulls registry models and refuses unknown names. */
public class ModelCheckTest {
    private static final List<String> SERVED = Arrays.asList("default", "tuned");
    private static final List<String> REGISTRY = Arrays.asList("vit_b_lm", "vit_l");

    @Test
    public void servedOrDefaultIsUsedRegistryIsPulled() {
        assertEquals(ModelCheck.Action.USE, ModelCheck.check("", SERVED, REGISTRY));
        assertEquals(ModelCheck.Action.USE, ModelCheck.check("tuned", SERVED, REGISTRY));
        assertEquals(ModelCheck.Action.PULL, ModelCheck.check("vit_b_lm", SERVED, REGISTRY));
    }

    @Test
    public void unknownNamesAreRefusedWithTheKnownOnes() {
        try {
            ModelCheck.check("vit_q", SERVED, REGISTRY);
            fail("vit_q accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no model \"vit_q\"")
                    && e.getMessage().contains("[default, tuned]") && e.getMessage().contains("vit_b_lm"));
        }
        try {
            ModelCheck.check("x", SERVED, Collections.<String>emptyList());
            fail("x accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), !e.getMessage().contains("by name"));
        }
    }
}
