// What the server says, in the console's language. The server words errors and reasons in English (`message`,
// `reason`, `last_error`) and, beside the sentence, gives its code and the values it names (`params`). In Chinese the
// console words it anew from those: SERVER_ZH holds one template per code, or one per `params.case` where one code
// covers several sentences (as an ICU `select` does), with `other` for the rest. An unknown code or a value the
// template needs but did not get shows the English sentence, which `{message}` also names.
//
// Codes: the error contract's (error_contract.py), the console edge's (console/errors.py EdgeCode, `validation`),
// the reason codes of the console's views (console/views.py ReasonCode), and `unreachable` (api.js).
// tests/web/test_server_messages.py fails when one of them has no template here.

import { MODEL_TYPE_TEXT } from "./ui.js";
import { ZH_HANS } from "./strings.js";

const CREDENTIALS_NOT_CONFIGURED = {
  api_key: "{provider} 尚未为 {model} 配置凭据：请添加 {provider} 的 API 密钥",
  or_custom_model: "{provider} 尚未为 {model} 配置凭据：请添加 {provider} 的 API 密钥或自定义模型",
  other: "尚未配置凭据：{message}",
};

const MODEL_NOT_FOUND = {
  unknown_provider: "未知的供应商 {provider}",
  ambiguous: "此工作空间中有多个名为 {model} 的模型：请指定 {options} 之一",
  no_such_model: "此工作空间中的 {provider} 没有{model_type}模型 {model}",
  no_usable_named: "此工作空间中没有名为 {model} 的可用{model_type}模型",
  no_usable_model: "此工作空间还没有可用的{model_type}模型可作默认模型",
  alias_unusable: "别名 {model} 的模型现在都无法调用：{reasons}",
  other: "找不到该模型：{message}",
};

export const SERVER_ZH = {
  // the error contract
  address_refused: "上游地址策略不允许访问该地址，未向其发送任何内容：{message}",
  api_key_expired: "此 API 密钥已过期",
  authentication_failed: "身份验证失败：{message}",
  budget_exceeded: "预算已用完：{message}",
  catalog_invalid: "供应商目录文件无效：{message}",
  conflict: "与已保存的内容冲突：{message}",
  content_filter: "{provider} 的内容过滤拦截了请求或回答：{detail}",
  context_length_exceeded: "输入与所需输出超出了模型的上下文长度（{provider}：{detail}）",
  credentials_not_configured: CREDENTIALS_NOT_CONFIGURED,
  credentials_rejected: {
    test_call: "测试调用失败：{provider} 答复“{detail}”",
    last_check: "{provider} 的凭据未通过最近一次校验：{message}",
    add_credentials_first: "请先添加 {provider} 的凭据",
    required: "{field} 为必填项",
    unknown_field: "未知的凭据字段 {field}",
    not_text: "{field} 必须是文本",
    too_long: "{field} 不能超过 {max_length} 个字符",
    not_an_option: "{field} 必须是以下之一：{options}",
    not_a_switch: "{field} 必须是 true 或 false",
    other: "凭据未通过校验：{message}",
  },
  decryption_failed: "无法解密已保存的凭据；需由运维人员检查主密钥",
  hosted_config_invalid: "托管供应商配置无效：{message}",
  idempotency_key_in_use: "使用同一 Idempotency-Key 的请求仍在处理中，请稍后重试",
  idempotency_key_reused: "此 Idempotency-Key 已用于另一个请求",
  insufficient_quota: "托管配额已用完：{message}",
  internal_error: "服务器内部错误，详情见服务器日志",
  invalid_request: {
    credentials_per_model: "{provider} 按模型配置凭据：请改为添加自定义模型",
    other: "请求无效：{message}",
  },
  master_key_invalid: "主密钥无效：{message}",
  model_disabled: "{provider} 的 {model} 已在此工作空间停用，启用后才能使用",
  model_not_allowed: "此 API 密钥不允许使用该模型：{message}",
  model_not_found: MODEL_NOT_FOUND,
  no_credential_available: "{provider} 的所有凭据都在冷却或已被拒绝，请稍后重试",
  not_found: {
    unknown_provider: "未知的供应商 {provider}",
    no_credential: "凭据 {id} 不存在",
    other: "找不到：{message}",
  },
  payload_too_large: "请求体过大：{message}",
  permission_denied: "没有权限：{message}",
  provider_quota_exhausted: "{provider} 账户的额度或配额已用完：{detail}",
  rate_limit_exceeded: "请求过于频繁，请稍后重试：{message}",
  server_stopping: "服务正在停止，请重试",
  settings_invalid: "服务设置无效：{message}",
  store_unavailable: "服务的数据库繁忙或无法访问，请稍后重试",
  transfer_failed: "导入或导出失败：{message}",
  unsupported_feature: "不支持的功能：{message}",
  upstream_auth_error: "{provider} 拒绝了已保存的凭据：{detail}",
  upstream_bad_request: "{provider} 拒绝了该请求：{detail}",
  upstream_connection_error: "无法连接 {provider}：{detail}",
  upstream_error: "{provider} 出错：{detail}",
  upstream_protocol_error: "无法读取 {provider} 的回答：{detail}",
  upstream_timeout: "{provider} 未及时回答：{detail}",
  upstream_unavailable: "{provider} 暂时不可用或过载：{detail}",
  workspace_refused: "工作空间的规则拒绝了该请求：{message}",

  // the console's own edge
  not_signed_in: "请先登录",
  invalid_token: "此访问令牌未知或已被撤销",
  session_expired: "会话已结束，请重新登录",
  csrf: "请求缺少会话的 CSRF 令牌",
  metrics_token: "需要指标令牌",
  rate_limited: "登录尝试次数过多。",
  not_a_token: "此请求不是用访问令牌签名的",
  validation: { json_invalid: "请求体不是有效的 JSON", other: "{field} 的值无效：{detail}" },
  unreachable: "无法连接服务器；请确认 modelyard 正在运行",

  // reasons (views): those not above
  no_usable_model: "此工作空间还没有可用的{model_type}模型",
};

// Values that are words of the console's own vocabulary, shown in the current language too.
const PARAM_WORDS = { model_type: MODEL_TYPE_TEXT };

function template(code, params) {
  const entry = SERVER_ZH[code];
  if (entry === undefined || typeof entry === "string") return entry;
  return entry[params.case] ?? entry.other;
}

function zhValue(name, value) {
  const word = PARAM_WORDS[name]?.[value];
  return word ? (ZH_HANS[word] ?? word) : value;
}

/** The Chinese wording of a code and its params, or null when there is none (the English sentence is shown). */
export function zhMessage(code, params = {}, english = "") {
  const chosen = code ? template(code, params ?? {}) : undefined;
  if (!chosen) return null;
  let complete = true;
  const worded = chosen.replace(/\{(\w+)\}/g, (match, name) => {
    if (name === "message") return english;
    const value = params?.[name];
    if (value === undefined || value === null || value === "") complete = false;
    return zhValue(name, value);
  });
  return complete ? worded : null;
}

/**
 * A server sentence as a source for i18n.text/tr/translate: English as the server said it, Chinese worded from
 * its code and params, so that it follows the language toggle like any label.
 */
export function serverText(code, params, english) {
  const source = english ?? "";
  return { en_US: source, zh_Hans: zhMessage(code, params, source) ?? ZH_HANS[source] ?? source };
}

/** Why a model or a default cannot be used (`reason`, `reason_code`, `reason_params`), as a translatable source. */
export function reasonText(view) {
  return serverText(view.reason_code, view.reason_params, view.reason);
}

/** Why the last check of stored credentials failed (`last_error` and its code and params). */
export function lastErrorText(view) {
  return serverText(view.last_error_code, view.last_error_params, view.last_error);
}
