// A small chat playground: pick a model, send a message, watch the answer stream in, then see its usage.
// The stream is the console's SSE route, read with fetch (EventSource cannot POST). After an answer, the
// workspace's default LLM names the conversation (once) and suggests follow-up questions; a click asks one.

import { get, post, postStream } from "../api.js";
import { catalog } from "../catalog.js";
import { h, replace } from "../dom.js";
import { field, form, formError, showError } from "../forms.js";
import { text, tr, translateAttribute } from "../i18n.js";
import { serverText } from "../messages.js";
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
        const { code, params, message } = event.error;
        const failure = message ? serverText(code, params, message) : "The call failed.";
        bubble.append(h("span", { class: "usage", role: "alert" }, tr(failure)));
        bubble.dataset.state = "error";
      }
    },
    { signal },
  );
  return full;
}

/**
 * The system model's tasks for the conversation so far: its title (asked after the first answer, until one
 * comes) and follow-up questions (after every answer). A late answer for a conversation that moved on is dropped.
 */
function conversationTasks(titleElement, suggestions, ask) {
  let conversation = 0; // a new one after Clear
  let turn = 0; // a new one with every question
  let titled = false;

  function reset() {
    conversation += 1;
    titled = false;
    titleElement.hidden = true;
    titleElement.textContent = "";
    clearSuggestions();
  }

  function clearSuggestions() {
    turn += 1;
    suggestions.hidden = true;
    suggestions.dataset.state = "idle";
    replace(suggestions);
  }

  function nameConversation(body) {
    const named = conversation;
    titled = true;
    post(wsPath("/playground/title"), body).then(
      (answer) => {
        if (named !== conversation) return;
        titleElement.textContent = answer.title;
        titleElement.title = text("Title by {model}", { model: `${answer.provider}/${answer.model}` });
        titleElement.hidden = false;
      },
      () => {
        if (named === conversation) titled = false; // asked again after the next answer
      },
    );
  }

  async function suggest(body) {
    const asked = turn;
    suggestions.hidden = false;
    suggestions.dataset.state = "loading";
    replace(suggestions, h("span", { class: "hint" }, tr("Suggesting follow-up questions…")));
    try {
      const answer = await post(wsPath("/playground/suggested-questions"), body);
      if (asked !== turn) return;
      replace(
        suggestions,
        h("span", { class: "hint" }, tr("Ask next:")),
        answer.questions.map((question) =>
          h("button", { type: "button", class: "suggestion small", onclick: () => ask(question) }, question),
        ),
      );
      suggestions.dataset.state = "done";
    } catch (error) {
      if (asked !== turn) return;
      replace(suggestions, h("span", { class: "hint" }, tr("No suggestions: {reason}", { reason: error.message })));
      suggestions.dataset.state = "error";
    }
  }

  function afterAnswer(history) {
    const body = { messages: history.slice() };
    if (!titled) nameConversation(body);
    suggest(body);
  }

  return { afterAnswer, clearSuggestions, reset };
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
  const conversationTitle = h("h2", { class: "conversation-title", id: "conversation-title", hidden: true });
  const transcript = h("div", { class: "chat", id: "transcript", "aria-live": "polite" });
  const suggestions = h("div", { class: "suggestions", id: "suggestions", role: "group", hidden: true });
  translateAttribute(suggestions, "aria-label", "Suggested questions");
  const tasks = conversationTasks(conversationTitle, suggestions, ask);
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
        tasks.clearSuggestions();
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
          if (bubble.dataset.state === "done") tasks.afterAnswer(history);
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
          tasks.reset();
        },
        { small: true },
      ),
    ),
  );
  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) composer.requestSubmit();
  });
  function ask(question) {
    if (controller) return; // an answer is still streaming
    message.value = question;
    composer.requestSubmit();
  }
  return h(
    "div",
    {},
    pageHead("Playground", "Try a chat model with this workspace's credentials."),
    panel(null, conversationTitle, transcript, suggestions, composer),
  );
}

route("playground", playgroundPage, { title: "Playground" });
