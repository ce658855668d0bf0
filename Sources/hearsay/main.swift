import HearsayCLI
HearsayCommand.main()
