-- Commands only; the server starts with require("lsp_ai").setup().
if vim.g.loaded_lsp_ai then
  return
end
vim.g.loaded_lsp_ai = true

vim.api.nvim_create_user_command("LspAiChat", function(opts)
  local chat = require("lsp_ai.chat")
  local selection = nil
  if opts.range > 0 then
    selection = table.concat(vim.api.nvim_buf_get_lines(0, opts.line1 - 1, opts.line2, false), "\n")
  end
  if opts.args ~= "" then
    chat.ask(opts.args, selection)
    return
  end
  vim.ui.input({ prompt = "Ask lsp-ai: " }, function(message)
    if message and message ~= "" then
      chat.ask(message, selection)
    end
  end)
end, { nargs = "*", range = true, desc = "Ask lsp-ai about this workspace (a selection is included)" })

vim.api.nvim_create_user_command("LspAiChatStop", function()
  require("lsp_ai.chat").stop()
end, { desc = "Stop the lsp-ai answer being generated" })

vim.api.nvim_create_user_command("LspAiChatNew", function()
  require("lsp_ai.chat").new_session()
end, { desc = "Start a new lsp-ai conversation" })

vim.api.nvim_create_user_command("LspAiExplain", function()
  local client = require("lsp_ai").client()
  if not client then
    vim.notify("lsp-ai is not running in this buffer", vim.log.levels.WARN)
    return
  end
  -- The server answers with the explanation and also shows it as a message.
  client:request("workspace/executeCommand", {
    command = "lsp-ai.explainLastCompletion",
    arguments = { vim.uri_from_bufnr(0) },
  }, function(err, result)
    if err then
      vim.notify("lsp-ai: " .. err.message, vim.log.levels.ERROR)
    elseif result then
      vim.notify(result.text, vim.log.levels.INFO)
    end
  end, 0)
end, { desc = "Why lsp-ai showed this suggestion, or none, at the last completion here" })
