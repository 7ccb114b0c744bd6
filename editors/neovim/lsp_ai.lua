-- Neovim 0.11+: put this file on your runtimepath (e.g. ~/.config/nvim/lua/lsp_ai.lua) and
-- `require("lsp_ai")`. Completion items arrive through the built-in LSP completion; on 0.12+
-- ghost text comes from vim.lsp.inline_completion.
vim.lsp.config("lsp_ai", {
  cmd = { "lsp-ai", "serve" },
  root_markers = { ".git", ".lsp-ai.toml" },
  filetypes = { "python", "lua", "javascript", "typescript", "go", "rust", "c", "cpp", "java" },
  init_options = { completion = { max_tokens = 64 } },
})
vim.lsp.enable("lsp_ai")

vim.api.nvim_create_autocmd("LspAttach", {
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= "lsp_ai" then
      return
    end
    if vim.lsp.inline_completion then
      vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
    else
      vim.lsp.completion.enable(true, client.id, args.buf, { autotrigger = true })
    end
  end,
})
