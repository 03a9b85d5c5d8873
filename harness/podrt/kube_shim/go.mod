module todo-chatbot/kube-shim

go 1.22
