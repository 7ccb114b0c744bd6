-- lsp-ai for Neovim 0.11+: starts `lsp-ai serve` through vim.lsp.config/vim.lsp.enable.
-- Ghost text comes from vim.lsp.inline_completion where Neovim has it (0.12+); before that the
-- same engine answers as completion items, requested automatically once typing pauses.
local M = {}

M.defaults = {
  cmd = { "lsp-ai", "serve" },
  filetypes = {
    "python", "lua", "javascript", "javascriptreact", "typescript", "typescriptreact",
    "go", "rust", "c", "cpp", "java", "ruby", "sh",
  },
  root_markers = { ".lsp-ai.toml", ".git" },
  -- lsp-ai configuration keys (SPEC section 2), sent as initializationOptions.
  settings = {},
  -- Neovim < 0.12: ask for completion items this long after typing pauses (0 turns it off;
  -- `<C-x><C-o>` still asks by hand).
  debounce_ms = 300,
  -- Neovim 0.12+: the key that accepts the ghost text (falls through when there is none).
  accept_key = "<Tab>",
}

M.config = vim.deepcopy(M.defaults)

local group = vim.api.nvim_create_augroup("lsp_ai", { clear = true })
local timers = {} ---@type table<integer, uv.uv_timer_t>

--- Ask for completion items once typing pauses, as ghost-text clients do on their own.
local function auto_request(bufnr)
  local timer = assert(vim.uv.new_timer())
  timers[bufnr] = timer
  vim.api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      timer:stop()
      timer:start(M.config.debounce_ms, 0, vim.schedule_wrap(function()
        local still_typing_here = vim.api.nvim_get_current_buf() == bufnr
          and vim.fn.mode():sub(1, 1) == "i"
          and vim.fn.pumvisible() == 0
        if still_typing_here then
          vim.lsp.completion.get()
        end
      end))
    end,
  })
  vim.api.nvim_create_autocmd("InsertLeave", {
    group = group,
    buffer = bufnr,
    callback = function() timer:stop() end,
  })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = group,
    buffer = bufnr,
    callback = function()
      timer:stop()
      timer:close()
      timers[bufnr] = nil
    end,
  })
end

-- Neovim 0.11 inserts a plain-text item only up to its first space, and a completion menu
-- cannot insert line breaks: the menu inserts the suggestion's whole first line, and
-- accepting it with <C-y> inserts the rest.
local function whole_line(item)
  local edit = item.textEdit
  if item.detail ~= "lsp-ai" or not edit or not edit.newText then
    return {}
  end
  -- A suggestion that starts on the next line has an empty first line: still offer it.
  return { word = edit.newText:match("^[^\n]*"), empty = 1 }
end

local function finish_on_accept(bufnr, client_id)
  vim.api.nvim_create_autocmd("CompleteDone", {
    group = group,
    buffer = bufnr,
    callback = function()
      local lsp_data = vim.tbl_get(vim.v.completed_item, "user_data", "nvim", "lsp")
      if vim.v.event.reason ~= "accept" or not lsp_data or lsp_data.client_id ~= client_id then
        return
      end
      local text = vim.tbl_get(lsp_data, "completion_item", "textEdit", "newText") or ""
      local rest = text:match("^[^\n]*\n(.*)$")
      if rest then
        local row, col = unpack(vim.api.nvim_win_get_cursor(0))
        local lines = vim.split(rest, "\n", { plain = true })
        vim.api.nvim_buf_set_text(bufnr, row - 1, col, row - 1, col, { "", unpack(lines) })
        vim.api.nvim_win_set_cursor(0, { row + #lines, #lines[#lines] })
      end
    end,
  })
end

local function attach(client, bufnr)
  if vim.lsp.inline_completion then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    vim.keymap.set("i", M.config.accept_key, function()
      if not vim.lsp.inline_completion.get() then
        return M.config.accept_key
      end
    end, { buffer = bufnr, expr = true, desc = "lsp-ai: accept the suggestion" })
    return
  end
  vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true, convert = whole_line })
  finish_on_accept(bufnr, client.id)
  if M.config.debounce_ms > 0 and not timers[bufnr] then
    auto_request(bufnr)
  end
end

--- Start lsp-ai for the configured filetypes. `opts` overrides `M.defaults`.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  local cfg = M.config
  vim.lsp.config("lsp_ai", {
    cmd = cfg.cmd,
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    -- An empty Lua table would go out as a JSON array.
    init_options = next(cfg.settings) and cfg.settings or vim.empty_dict(),
    handlers = { ["$/progress"] = require("lsp_ai.chat").on_progress },
  })
  vim.lsp.enable("lsp_ai")
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == "lsp_ai" then
        attach(client, args.buf)
      end
    end,
  })
end

--- The running lsp-ai client, if any.
function M.client()
  return vim.lsp.get_clients({ name = "lsp_ai" })[1]
end

return M
