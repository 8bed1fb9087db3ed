// A small chat playground: pick a model, send a message, watch the answer stream in, then see its usage.
// The stream is the console's SSE route, read with fetch (EventSource cannot POST).

import { get, postStream } from "../api.js";
import { catalog } from "../catalog.js";
import { h, replace } from "../dom.js";
import { field, form, formError, showError } from "../forms.js";
import { text, tr, translateAttribute } from "../i18n.js";
import { route } from "../router.js";
import { wsPath } from "../session.js";
import { button, empty, money, number, pageHead, panel } from "../ui.js";

function modelPicker(models, providers) {
  const select = h("select", { name: "model", id: "playground-model" });
  for (const [provider, list] of Map.groupBy(models, (m) => m.provider)) {
    const group = h("optgroup", { label: text(providers.get(provider)?.label ?? provider) });
    for (const model of list) group.append(h("option", { value: `${model.provider}/${model.model}` }, model.model));
    select.append(group);
  }
  return field({ name: "model", label: "Model", control: select });
}

function usageLine(done) {
  const usage = done.usage;
  const parts = [];
  if (usage) {
    parts.push(
      tr("{prompt} prompt + {completion} completion = {total} tokens", {
        prompt: number(usage.prompt_tokens),
        completion: number(usage.completion_tokens),
        total: number(usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0)),
      }),
    );
    if (usage.total_price !== undefined) parts.push(` · ${money(usage.total_price, usage.currency ?? "")}`);
    if (usage.latency_ms !== undefined) parts.push(` · ${number(usage.latency_ms)} ms`);
    if (usage.is_estimated) parts.push(" · ", tr("estimated"));
  } else {
    parts.push(tr("No usage reported"));
  }
  if (done.provider) parts.push(` · ${done.provider}/${done.model ?? ""}`);
  return h("span", { class: "usage", dataset: { usage: "" } }, parts);
}

/** Stream one answer into `bubble`; returns the full text. */
async function streamAnswer(body, bubble, signal) {
  const answer = h("span", { class: "answer" });
  const thoughts = h("span", {});
  const reasoning = h("details", { class: "reasoning", hidden: true }, h("summary", {}, tr("Reasoning")), thoughts);
  bubble.append(reasoning, answer);
  let full = "";
  await postStream(
    wsPath("/playground/chat"),
    body,
    (event) => {
      if ("delta" in event) {
        full += event.delta ?? "";
        answer.textContent = full;
        if (event.reasoning) {
          reasoning.hidden = false;
          thoughts.textContent += event.reasoning;
        }
        bubble.scrollIntoView({ block: "end" });
      } else if (event.done) {
        bubble.append(usageLine(event));
        bubble.dataset.state = "done";
      } else if (event.error) {
        bubble.classList.add("error");
        bubble.append(h("span", { class: "usage", role: "alert" }, event.error.message ?? text("The call failed.")));
        bubble.dataset.state = "error";
      }
    },
    { signal },
  );
  return full;
}

async function playgroundPage() {
  const [models, providers] = await Promise.all([get(wsPath(`/models?model_type=llm`)), catalog()]);
  const usable = models.filter((model) => model.is_enabled && model.is_available);
  if (!usable.length) {
    return h(
      "div",
      {},
      pageHead("Playground"),
      panel(null, empty("No chat model is usable yet: set up a provider first.")),
    );
  }
  const history = [];
  const transcript = h("div", { class: "chat", id: "transcript", "aria-live": "polite" });
  let controller = null;
  const stop = button("Stop", () => controller?.abort(), { small: true });
  stop.hidden = true;

  const message = h("textarea", { name: "message", id: "playground-message", rows: 3 });
  translateAttribute(message, "placeholder", "Ask something… (Ctrl+Enter sends)");
  const temperature = h("input", { type: "number", name: "temperature", min: 0, max: 2, step: 0.1, class: "compact" });
  const maxTokens = h("input", { type: "number", name: "max_tokens", min: 1, class: "compact" });

  const composer = form(
    {
      className: "composer",
      label: "Send a message",
      onSubmit: async (self) => {
        const content = message.value.trim();
        if (!content) return showError(self, { field: "message", message: text("Write a message first.") });
        history.push({ role: "user", content });
        transcript.append(h("div", { class: "message user" }, content));
        const bubble = h("div", { class: "message assistant", dataset: { state: "streaming" } });
        transcript.append(bubble);
        message.value = "";
        controller = new AbortController();
        stop.hidden = false;
        const body = { model: self.elements.model.value, messages: history.slice() };
        if (temperature.value) body.temperature = Number(temperature.value);
        if (maxTokens.value) body.max_tokens = Number(maxTokens.value);
        try {
          const answer = await streamAnswer(body, bubble, controller.signal);
          history.push({ role: "assistant", content: answer });
        } catch (error) {
          history.pop(); // the question got no answer: leave it out of the next turn
          bubble.classList.add("error");
          bubble.dataset.state = "error";
          bubble.append(
            h(
              "span",
              { class: "usage", role: "alert" },
              error.name === "AbortError" ? text("Stopped.") : error.message,
            ),
          );
        } finally {
          stop.hidden = true;
          controller = null;
          message.focus();
        }
      },
    },
    h(
      "div",
      { class: "settings" },
      modelPicker(usable, providers),
      field({ name: "temperature", label: "Temperature", control: temperature }),
      field({ name: "max_tokens", label: "Max tokens", control: maxTokens }),
    ),
    field({ name: "message", label: "Message", control: message }),
    formError(),
    h(
      "div",
      { class: "form-actions" },
      button("Send", null, { kind: "primary", type: "submit" }),
      stop,
      button(
        "Clear",
        () => {
          history.length = 0;
          replace(transcript);
        },
        { small: true },
      ),
    ),
  );
  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) composer.requestSubmit();
  });
  return h(
    "div",
    {},
    pageHead("Playground", "Try a chat model with this workspace's credentials."),
    panel(null, transcript, composer),
  );
}

route("playground", playgroundPage, { title: "Playground" });
