package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the script that teaches SHELL to complete nook's commands and
flags. Load it once per session, or install it where the shell looks
("make install" does both for bash, zsh and fish):

  source <(nook completion bash)                    # this bash session
  nook completion bash > /etc/bash_completion.d/nook
  nook completion zsh > "${fpath[1]}/_nook"
  nook completion fish > ~/.config/fish/completions/nook.fish`,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		Args:                  usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, !noDesc)
			case "zsh":
				if noDesc {
					return root.GenZshCompletionNoDesc(out)
				}
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, !noDesc)
			case "powershell":
				if noDesc {
					return root.GenPowerShellCompletion(out)
				}
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usageError{fmt.Errorf("unknown shell %q", args[0])}
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without a description beside each choice")
	return cmd
}
