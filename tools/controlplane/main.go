// Command controlplane is a multi-call binary bundling a real
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
// kube-proxy, kubectl and etcd, built from the upstream Go modules
// (k8s.io/kubernetes, k8s.io/kubectl and go.etcd.io/etcd/server/v3). It exists
// so that kasprop's integration tests can run a genuine cluster, control plane
// and node, without Docker, kind or prebuilt downloads. One binary keeps every
// component on exactly the control plane's version, and costs little more
// than the control plane alone because almost every package is shared.
//
// The component is selected by the first argument or, when the binary is
// invoked through a symlink/copy named after a component, by argv[0]:
//
//	controlplane kube-apiserver [flags...]
//	controlplane kube-controller-manager [flags...]
//	controlplane kube-scheduler [flags...]
//	controlplane kubelet [flags...]
//	controlplane kube-proxy [flags...]
//	controlplane kubectl [flags...]
//	controlplane etcd [flags...]
//	controlplane version
//
// Each invocation runs exactly one component in its own process; only the
// executable is shared.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	_ "time/tzdata" // CronJob time zone support, as upstream's main packages do

	etcdversion "go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metric plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric registration
	"k8s.io/component-base/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
)

const usage = `usage: controlplane <component> [flags...]

components:
  kube-apiserver            run k8s.io/kubernetes/cmd/kube-apiserver
  kube-controller-manager   run k8s.io/kubernetes/cmd/kube-controller-manager
  kube-scheduler            run k8s.io/kubernetes/cmd/kube-scheduler
  kubelet                   run k8s.io/kubernetes/cmd/kubelet
  kube-proxy                run k8s.io/kubernetes/cmd/kube-proxy
  kubectl                   run k8s.io/kubectl (kubectl logs, kubectl kustomize, ...)
  etcd                      run go.etcd.io/etcd/server/v3 (etcdmain)
  version                   print the bundled versions

The component may also be selected by argv[0] (symlink named after it).
`

func main() {
	os.Exit(run(os.Args))
}

func run(argv []string) int {
	name := strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	args := argv[1:]
	if !isComponent(name) {
		if len(args) == 0 {
			fmt.Fprint(os.Stderr, usage)
			return 2
		}
		name, args = args[0], args[1:]
	}

	switch name {
	case "kube-apiserver":
		cmd := apiserverapp.NewAPIServerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "kube-controller-manager":
		cmd := kcmapp.NewControllerManagerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "kube-scheduler":
		cmd := schedulerapp.NewSchedulerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "kubelet":
		cmd := kubeletapp.NewKubeletCommand(context.Background())
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "kube-proxy":
		cmd := proxyapp.NewProxyCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "kubectl":
		// As upstream's cmd/kubectl: errors are printed by CheckErr, with kubectl's exit codes.
		cmd := kubectlcmd.NewDefaultKubectlCommand()
		cmd.SetArgs(args)
		if err := cli.RunNoErrOutput(cmd); err != nil {
			kubectlutil.CheckErr(err)
		}
		return 0
	case "etcd":
		// etcdmain.Main expects a full argv (it parses args[1:]) and exits
		// the process itself on fatal errors.
		etcdmain.Main(append([]string{"etcd"}, args...))
		return 0
	case "version", "--version", "-version":
		fmt.Printf("kubernetes %s\netcd-server %s\n", version.Get().GitVersion, etcdversion.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "controlplane: unknown component %q\n\n%s", name, usage)
		return 2
	}
}

func isComponent(name string) bool {
	switch name {
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "etcd":
		return true
	}
	return false
}
