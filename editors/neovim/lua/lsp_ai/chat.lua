-- :LspAiChat: sends `$/chat` with a partialResultToken and streams the `{ delta }` values the
-- server reports through `$/progress` into a Markdown scratch buffer. Sources go to the
-- quickfix list, and <CR> on a source line in the chat buffer opens it.
local M = {
  session_id = nil, ---@type string?
  -- The last request, for statusline and tests: { deltas, content, sources, done, error }.
  last = nil, ---@type table?
}

local BUF_NAME = "lsp-ai://chat"
local streams = {} ---@type table<string, fun(delta: string)>
local next_token = 0
local running = nil ---@type { client: vim.lsp.Client, id: integer }?
local source_at_line = {} ---@type table<integer, table>

local function chat_buffer()
  local buf = vim.fn.bufnr(BUF_NAME)
  if buf ~= -1 and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, BUF_NAME)
  vim.bo[buf].filetype = "markdown"
  vim.bo[buf].bufhidden = "hide"
  vim.keymap.set("n", "<CR>", function()
    local source = source_at_line[vim.api.nvim_win_get_cursor(0)[1]]
    if source then
      M.open_source(source)
    end
  end, { buffer = buf, desc = "lsp-ai: open the source under the cursor" })
  return buf
end

local function show(buf)
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd("botright vsplit")
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    vim.wo[win].wrap = true
    vim.wo[win].linebreak = true
    vim.cmd("wincmd p")
  end
  return win
end

--- Append text at the end of the buffer, continuing its last line, and follow it.
local function append(buf, text)
  local last = vim.api.nvim_buf_line_count(buf) - 1
  local col = #vim.api.nvim_buf_get_lines(buf, last, last + 1, true)[1]
  vim.api.nvim_buf_set_text(buf, last, col, last, col, vim.split(text, "\n", { plain = true }))
  local win = vim.fn.bufwinid(buf)
  if win ~= -1 then
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

--- `$/progress` handler for the lsp-ai client: chat deltas here, the rest to Neovim's own.
function M.on_progress(err, result, ctx, config)
  local value = result and result.value
  if type(value) == "table" and value.delta ~= nil then
    local stream = streams[tostring(result.token)]
    if stream then
      stream(value.delta)
    end
    return
  end
  return vim.lsp.handlers["$/progress"](err, result, ctx, config)
end

function M.open_source(source)
  vim.cmd("wincmd p")
  vim.cmd.edit(vim.fn.fnameescape(vim.uri_to_fname(source.uri)))
  vim.api.nvim_win_set_cursor(0, { source.startLine + 1, 0 })
end

local function list_sources(buf, sources)
  if #sources == 0 then
    return
  end
  append(buf, "\n\nSources:")
  local items = {}
  for _, s in ipairs(sources) do
    local label = ("%s:%d-%d"):format(s.path, s.startLine + 1, s.endLine + 1)
    if s.symbol and s.symbol ~= vim.NIL then
      label = label .. " (" .. s.symbol .. ")"
    end
    append(buf, "\n- " .. label)
    source_at_line[vim.api.nvim_buf_line_count(buf)] = s
    items[#items + 1] = {
      filename = vim.uri_to_fname(s.uri),
      lnum = s.startLine + 1,
      end_lnum = s.endLine + 1,
      text = s.symbol ~= vim.NIL and s.symbol or s.path,
    }
  end
  vim.fn.setqflist({}, " ", { title = "lsp-ai sources", items = items })
end

--- Ask lsp-ai a question about the workspace; the answer streams into the chat buffer.
---@param message string
---@param selection? string code the question is about (a visual selection)
function M.ask(message, selection)
  local client = require("lsp_ai").client()
  if not client then
    vim.notify(
      "lsp-ai is not running: open a file of a filetype it serves (:checkhealth vim.lsp tells why)",
      vim.log.levels.ERROR
    )
    return
  end
  if running then
    M.stop()
  end
  local src_buf = vim.api.nvim_get_current_buf()
  local params = { message = message }
  if selection and selection ~= "" then
    params.message = message .. "\n\n```" .. vim.bo[src_buf].filetype .. "\n" .. selection .. "\n```"
  end
  if src_buf ~= vim.fn.bufnr(BUF_NAME) and vim.api.nvim_buf_get_name(src_buf) ~= "" then
    local pos = vim.lsp.util.make_position_params(0, client.offset_encoding)
    params.textDocument = pos.textDocument
    params.position = pos.position
  end
  params.sessionId = M.session_id
  next_token = next_token + 1
  local token = ("lsp-ai-chat-%d-%d"):format(vim.fn.getpid(), next_token)
  params.partialResultToken = token

  local buf = chat_buffer()
  show(buf)
  local empty = vim.api.nvim_buf_line_count(buf) == 1
    and vim.api.nvim_buf_get_lines(buf, 0, 1, true)[1] == ""
  append(buf, (empty and "" or "\n\n") .. "## You\n\n" .. params.message .. "\n\n## lsp-ai\n\n")

  local state = { deltas = 0, content = "", sources = {}, done = false }
  M.last = state
  streams[token] = function(delta)
    state.deltas = state.deltas + 1
    state.content = state.content .. delta
    append(buf, delta)
  end

  local ok, id = client:request("$/chat", params, function(err, result)
    streams[token] = nil
    running = nil
    state.done = true
    if err then
      state.error = err
      local cancelled = err.code == -32800
      append(buf, cancelled and "\n\n_(stopped)_" or ("\n\n**Error:** " .. err.message))
      return
    end
    M.session_id = result.sessionId
    if state.deltas == 0 then
      append(buf, result.content)
    end
    state.content = result.content
    state.sources = result.sources
    list_sources(buf, result.sources)
  end, src_buf)
  if ok then
    running = { client = client, id = id }
  else
    streams[token] = nil
    vim.notify("lsp-ai: the chat request could not be sent", vim.log.levels.ERROR)
  end
end

--- Stop the answer being generated (the server ends its work within a quarter second).
function M.stop()
  if running then
    running.client:cancel_request(running.id)
  end
end

--- Forget the conversation: the next question starts a new session.
function M.new_session()
  M.stop()
  M.session_id = nil
  source_at_line = {}
  local buf = vim.fn.bufnr(BUF_NAME)
  if buf ~= -1 then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, {})
  end
end

return M
