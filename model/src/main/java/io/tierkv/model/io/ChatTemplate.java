package io.tierkv.model.io;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face chat template (the Jinja text in {@code tokenizer_config.json}) rendered with jinjava the way
 * {@code transformers}' {@code apply_chat_template} renders it: blocks trimmed and left-stripped, the variables
 * {@code messages} (role and content maps), {@code add_generation_prompt}, {@code bos_token} and
 * {@code eos_token}, and the function {@code raise_exception(message)}, which becomes an
 * {@link IllegalArgumentException} here.
 */
public final class ChatTemplate {
    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinja;

    /** One message of a conversation. */
    public record Message(String role, String content) {
    }

    public ChatTemplate(String template, String bosToken, String eosToken) {
        if (template == null || template.isBlank()) {
            throw new IllegalArgumentException("the chat template is empty");
        }
        this.template = template;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build());
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
    }

    /** The chat template of a tokenizer configuration; an error saying so when it has none. */
    public static ChatTemplate of(TokenizerConfig config) {
        if (config.chatTemplate() == null) {
            throw new IllegalArgumentException(TokenizerConfig.FILE + " has no chat_template (a base model, not a chat model?)");
        }
        return new ChatTemplate(config.chatTemplate(), config.bosToken(), config.eosToken());
    }

    /** Renders the conversation, with the assistant's header after it when {@code addGenerationPrompt}. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", list);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        RenderResult r;
        try {
            r = jinja.renderForResult(template, vars);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("chat template: " + rootMessage(e), e);
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                String msg = e.getException() != null ? rootMessage(e.getException()) : e.getMessage();
                throw new IllegalArgumentException("chat template" + (e.getLineno() > 0 ? " line " + e.getLineno() : "") + ": " + msg);
            }
        }
        return r.getOutput();
    }

    /** {@code raise_exception} of the templates: the template refuses the conversation. */
    public static String raiseException(String message) {
        throw new TemplateRefusal(message);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            if (t instanceof TemplateRefusal) {
                break;
            }
            t = t.getCause();
        }
        return t.getMessage();
    }

    /** What {@code raise_exception} throws inside the renderer. */
    static final class TemplateRefusal extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TemplateRefusal(String message) {
            super(message, null, false, false);
        }
    }
}
