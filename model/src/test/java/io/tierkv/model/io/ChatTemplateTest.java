package io.tierkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The chat templates of the models TierKV loads, as published in their tokenizer_config.json. */
class ChatTemplateTest {
    private static final String LLAMA3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content ="
            + " '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}"
            + "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    private static final String MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') !="
            + " (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
            + "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role']"
            + " == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are"
            + " supported!') }}{% endif %}{% endfor %}";
    private static final String QWEN2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role']"
            + " + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";
    /** TinyLlama-Chat's (Zephyr's): blocks on their own lines, which trim_blocks and lstrip_blocks remove. */
    private static final String ZEPHYR = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n'"
            + " + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  +"
            + " message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n"
            + "{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

    private static final List<ChatTemplate.Message> HELLO = List.of(new ChatTemplate.Message("user", "Hello there"));

    @Test
    void llama3_startsWithBosAndEndsWithTheAssistantHeader() {
        String out = new ChatTemplate(LLAMA3, "<|begin_of_text|>", "<|eot_id|>").render(HELLO, true);
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", out);
    }

    @Test
    void llama3_withoutGenerationPrompt_endsAfterTheMessage() {
        String out = new ChatTemplate(LLAMA3, "<|begin_of_text|>", "<|eot_id|>").render(HELLO, false);
        assertTrue(out.endsWith("Hello there<|eot_id|>"), out);
    }

    @Test
    void mistral_wrapsTheUserTurnInInst() {
        String out = new ChatTemplate(MISTRAL, "<s>", "</s>").render(HELLO, true);
        assertEquals("<s>[INST] Hello there [/INST]", out);
    }

    @Test
    void mistral_raiseException_becomesAnErrorWithTheTemplatesMessage() {
        List<ChatTemplate.Message> twoUsers = List.of(new ChatTemplate.Message("user", "a"), new ChatTemplate.Message("user", "b"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ChatTemplate(MISTRAL, "<s>", "</s>").render(twoUsers, true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
    }

    @Test
    void qwen2_addsTheDefaultSystemPrompt() {
        String out = new ChatTemplate(QWEN2, null, "<|im_end|>").render(HELLO, true);
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello there<|im_end|>\n"
                + "<|im_start|>assistant\n", out);
    }

    @Test
    void zephyr_blockLinesAreTrimmed() {
        String out = new ChatTemplate(ZEPHYR, "<s>", "</s>").render(HELLO, true);
        assertEquals("<|user|>\nHello there</s>\n<|assistant|>\n", out);
    }

    @Test
    void noTemplate_isRefusedNamingTheFile() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.of(TokenizerConfig.empty()));
        assertTrue(e.getMessage().contains("tokenizer_config.json has no chat_template"), e.getMessage());
    }
}
